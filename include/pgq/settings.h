#pragma once
/// @file
/// Names of the database objects PgQueuer uses, built exactly as PgQueuer
/// builds them (prefix, optional schema, per-object overrides) from the same
/// PGQUEUER_* environment variables.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pgq {

/// How much of the queue survives a server crash (maps tables to
/// LOGGED/UNLOGGED; never changes the wire format).
enum class Durability { kVolatile, kBalanced, kDurable };

/// "volatile" | "balanced" | "durable".
std::string_view ToString(Durability durability) noexcept;
/// Parses a durability level; throws pgq::LogicError naming the valid values.
Durability ParseDurability(std::string_view text);

/// Which tables are UNLOGGED for a durability level.
struct DurabilityPolicy {
  bool queue_unlogged;
  bool log_unlogged;
  bool statistics_unlogged;
  bool schedules_unlogged;
};
DurabilityPolicy PolicyFor(Durability durability) noexcept;

/// Object names and options shared by every process on one database.
/// Plain value type; validate with Validate() after editing fields by hand.
struct DBSettings {
  std::string prefix;
  /// Schema the objects live in; empty = resolve through search_path.
  std::string schema;
  std::string queue_table;
  std::string queue_table_log;
  std::string statistics_table;
  std::string schedules_table;
  std::string queue_status_type;
  std::string function;
  std::string trigger;
  std::string channel;
  Durability durability = Durability::kDurable;
  bool widen_id = true;

  /// Defaults for a prefix (pasted on with no separator, as PgQueuer does).
  static DBSettings WithPrefix(std::string_view prefix = "");

  using EnvLookup = std::function<std::optional<std::string>(const char*)>;
  /// Reads PGQUEUER_* (and the legacy bare names) from the process
  /// environment. Throws pgq::LogicError on an invalid value.
  static DBSettings FromEnv();
  /// Same, with an injectable lookup (tests, config layering).
  static DBSettings FromEnv(const EnvLookup& lookup);

  /// Throws pgq::LogicError if any name is not a valid identifier.
  void Validate() const;

  /// `schema.name` when a schema is set, else `name`.
  std::string Qualify(std::string_view name) const;
  std::string QueueTable() const { return Qualify(queue_table); }
  std::string LogTable() const { return Qualify(queue_table_log); }
  std::string StatisticsTable() const { return Qualify(statistics_table); }
  std::string SchedulesTable() const { return Qualify(schedules_table); }
  std::string StatusType() const { return Qualify(queue_status_type); }
  std::string FunctionName() const { return Qualify(function); }
  /// SQL expression for the schema catalog probes filter on.
  std::string SchemaExpr() const;

  bool operator==(const DBSettings&) const = default;
};

/// True for `^[A-Za-z_][A-Za-z0-9_]*$` (the identifiers pgq accepts).
bool IsIdentifier(std::string_view name) noexcept;

}  // namespace pgq
