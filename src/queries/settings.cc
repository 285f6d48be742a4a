#include "pgq/settings.h"

#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pgq/error.h"
#include "queries/enum_names.h"
#include "util/ascii.h"

namespace pgq {
namespace {

using detail::AsciiLower;

constexpr std::string_view kIdentifierPattern = "^[A-Za-z_][A-Za-z0-9_]*$";

// Env var names double as the labels errors use for each field, so a message
// points at the knob to turn whether the value came from the environment or
// was set on the struct by hand.
constexpr const char* kPrefixVar = "PGQUEUER_PREFIX";
constexpr const char* kSchemaVar = "PGQUEUER_SCHEMA";
constexpr const char* kLegacySchemaVar = "DB_SCHEMA";
constexpr const char* kDurabilityVar = "PGQUEUER_DURABILITY";
constexpr const char* kLegacyDurabilityVar = "DURABILITY";
constexpr const char* kWidenIdVar = "PGQUEUER_WIDEN_ID";
constexpr const char* kLegacyWidenIdVar = "WIDEN_ID";

// How a name may be written.
enum class NameKind {
  // Table, enum type or function: may be `schema.name` when no schema is set.
  kQualifiable,
  // Trigger name or NOTIFY channel: never schema-qualified.
  kPlain,
};

// One per-object name: where it lives in DBSettings and which env vars set it.
struct NameField {
  std::string DBSettings::*member;
  const char* var;
  const char* legacy_var;
  NameKind kind;
};

constexpr NameField kNameFields[] = {
    {&DBSettings::queue_table, "PGQUEUER_QUEUE_TABLE", "QUEUE_TABLE",
     NameKind::kQualifiable},
    {&DBSettings::queue_table_log, "PGQUEUER_QUEUE_TABLE_LOG",
     "QUEUE_TABLE_LOG", NameKind::kQualifiable},
    {&DBSettings::statistics_table, "PGQUEUER_STATISTICS_TABLE",
     "STATISTICS_TABLE", NameKind::kQualifiable},
    {&DBSettings::schedules_table, "PGQUEUER_SCHEDULES_TABLE",
     "SCHEDULES_TABLE", NameKind::kQualifiable},
    {&DBSettings::queue_status_type, "PGQUEUER_QUEUE_STATUS_TYPE",
     "QUEUE_STATUS_TYPE", NameKind::kQualifiable},
    {&DBSettings::function, "PGQUEUER_FUNCTION", "FUNCTION",
     NameKind::kQualifiable},
    {&DBSettings::trigger, "PGQUEUER_TRIGGER", "TRIGGER", NameKind::kPlain},
    {&DBSettings::channel, "PGQUEUER_CHANNEL", "CHANNEL", NameKind::kPlain},
};

[[noreturn]] void ThrowInvalid(std::string_view label, std::string_view value,
                               std::string_view reason) {
  std::string message = "invalid ";
  message += label;
  message += " \"";
  message += value;
  message += "\": ";
  message += reason;
  throw LogicError(message);
}

std::string MustMatchReason() {
  return "must match " + std::string(kIdentifierPattern);
}

bool HasUpper(std::string_view text) noexcept {
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

void CheckPrefix(std::string_view label, std::string_view prefix) {
  if (!prefix.empty() && !IsIdentifier(prefix)) {
    ThrowInvalid(label, prefix, MustMatchReason());
  }
}

void CheckSchema(std::string_view label, std::string_view schema) {
  if (schema.empty()) return;
  if (!IsIdentifier(schema)) {
    ThrowInvalid(label, schema,
                 "must be a single unquoted identifier (no dots) matching " +
                     std::string(kIdentifierPattern));
  }
  if (HasUpper(schema)) {
    // Unquoted names fold to lower case in PostgreSQL, but the catalog probes
    // compare the schema as a literal, so it must already be lower case.
    ThrowInvalid(label, schema, "must be lower case");
  }
}

// Checks one object name. `schema` is the configured schema (may be empty).
void CheckName(std::string_view label, std::string_view value, NameKind kind,
               std::string_view schema) {
  if (IsIdentifier(value)) return;
  if (kind == NameKind::kPlain) {
    ThrowInvalid(label, value,
                 MustMatchReason() + " (it is never schema-qualified)");
  }
  const auto dot = value.find('.');
  const bool qualified = dot != std::string_view::npos &&
                         IsIdentifier(value.substr(0, dot)) &&
                         IsIdentifier(value.substr(dot + 1));
  if (!qualified) {
    ThrowInvalid(label, value,
                 MustMatchReason() + ", optionally written as schema.name");
  }
  if (!schema.empty()) {
    ThrowInvalid(label, value,
                 "a schema-qualified name cannot be combined with "
                 "PGQUEUER_SCHEMA (set to \"" +
                     std::string(schema) + "\"); give the bare name");
  }
}

// The value of the first of `var`, `legacy_var` that is set and non-empty,
// together with the name of the variable it came from.
struct EnvValue {
  std::string value;
  const char* var;
};

std::optional<EnvValue> Read(const DBSettings::EnvLookup& lookup,
                             const char* var, const char* legacy_var) {
  for (const char* name : {var, legacy_var}) {
    if (name == nullptr) continue;
    std::optional<std::string> value = lookup(name);
    if (value && !value->empty()) return EnvValue{std::move(*value), name};
  }
  return std::nullopt;
}

// Each level with its name, in enum order.
constexpr std::array<std::pair<Durability, std::string_view>, 3> kDurabilityNames{{
    {Durability::kVolatile, "volatile"},
    {Durability::kBalanced, "balanced"},
    {Durability::kDurable, "durable"},
}};

std::optional<Durability> TryParseDurability(std::string_view text) noexcept {
  return detail::ValueNamed<Durability>(kDurabilityNames, text);
}

constexpr std::string_view kDurabilityChoices =
    "expected one of volatile, balanced, durable";

bool ParseBool(const EnvValue& env) {
  const std::string lowered = AsciiLower(env.value);
  if (lowered == "true" || lowered == "1" || lowered == "yes") return true;
  if (lowered == "false" || lowered == "0" || lowered == "no") return false;
  ThrowInvalid(env.var, env.value,
               "expected true, false, 1, 0, yes or no (any case)");
}

}  // namespace

std::string_view ToString(Durability durability) noexcept {
  return detail::NameOf(kDurabilityNames, durability).value_or("unknown");
}

Durability ParseDurability(std::string_view text) {
  if (auto level = TryParseDurability(text)) return *level;
  ThrowInvalid("durability", text, kDurabilityChoices);
}

DurabilityPolicy PolicyFor(Durability durability) noexcept {
  switch (durability) {
    case Durability::kVolatile:
      return {.queue_unlogged = true,
              .log_unlogged = true,
              .statistics_unlogged = true,
              .schedules_unlogged = true};
    case Durability::kBalanced:
      return {.queue_unlogged = false,
              .log_unlogged = true,
              .statistics_unlogged = true,
              .schedules_unlogged = false};
    case Durability::kDurable:
      break;
  }
  return {.queue_unlogged = false,
          .log_unlogged = false,
          .statistics_unlogged = false,
          .schedules_unlogged = false};
}

bool IsIdentifier(std::string_view name) noexcept {
  if (name.empty()) return false;
  const auto is_alpha = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!is_alpha(name.front())) return false;
  for (char c : name.substr(1)) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

DBSettings DBSettings::WithPrefix(std::string_view prefix) {
  CheckPrefix(kPrefixVar, prefix);
  const std::string p(prefix);
  DBSettings settings;
  settings.prefix = p;
  settings.queue_table = p + "pgqueuer";
  settings.queue_table_log = p + "pgqueuer_log";
  settings.statistics_table = p + "pgqueuer_statistics";
  settings.schedules_table = p + "pgqueuer_schedules";
  settings.queue_status_type = p + "pgqueuer_status";
  settings.function = p + "fn_pgqueuer_changed";
  settings.trigger = p + "tg_pgqueuer_changed";
  settings.channel = p + "ch_pgqueuer";
  settings.durability = Durability::kDurable;
  settings.widen_id = true;
  return settings;
}

DBSettings DBSettings::FromEnv() {
  return FromEnv([](const char* name) -> std::optional<std::string> {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at startup.
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

DBSettings DBSettings::FromEnv(const EnvLookup& lookup) {
  // Each value is checked as it is read so the error names the variable that
  // actually carried it (e.g. the legacy DB_SCHEMA); Validate() then checks
  // the whole.
  std::optional<EnvValue> prefix = Read(lookup, kPrefixVar, nullptr);
  DBSettings settings = WithPrefix(prefix ? prefix->value : "");

  if (auto schema = Read(lookup, kSchemaVar, kLegacySchemaVar)) {
    settings.schema = AsciiLower(schema->value);
    CheckSchema(schema->var, settings.schema);
  }

  for (const NameField& field : kNameFields) {
    if (auto value = Read(lookup, field.var, field.legacy_var)) {
      // An explicit name is taken as given: never prefixed.
      CheckName(value->var, value->value, field.kind, settings.schema);
      settings.*field.member = std::move(value->value);
    }
  }

  if (auto durability = Read(lookup, kDurabilityVar, kLegacyDurabilityVar)) {
    auto level = TryParseDurability(durability->value);
    if (!level) {
      ThrowInvalid(durability->var, durability->value, kDurabilityChoices);
    }
    settings.durability = *level;
  }

  if (auto widen_id = Read(lookup, kWidenIdVar, kLegacyWidenIdVar)) {
    settings.widen_id = ParseBool(*widen_id);
  }

  settings.Validate();
  return settings;
}

void DBSettings::Validate() const {
  CheckPrefix(kPrefixVar, prefix);
  CheckSchema(kSchemaVar, schema);
  for (const NameField& field : kNameFields) {
    CheckName(field.var, this->*field.member, field.kind, schema);
  }
  if (!TryParseDurability(ToString(durability))) {
    ThrowInvalid(kDurabilityVar, ToString(durability), kDurabilityChoices);
  }
}

std::string DBSettings::Qualify(std::string_view name) const {
  if (schema.empty()) return std::string(name);
  std::string qualified = schema;
  qualified += '.';
  qualified += name;
  return qualified;
}

std::string DBSettings::SchemaExpr() const {
  if (schema.empty()) return "current_schema()";
  // Validate() admits only identifiers, but quote defensively anyway.
  std::string literal = "'";
  for (char c : schema) {
    if (c == '\'') literal += '\'';
    literal += c;
  }
  literal += '\'';
  return literal;
}

}  // namespace pgq
