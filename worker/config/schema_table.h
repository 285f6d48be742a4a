#pragma once
// The building blocks of the configuration schema (config_schema.h): a key
// row, a section of rows, enum-name tables and the dump helpers, plus the
// section tables themselves. One table-driven description of the file
// format, kept in one file per section group:
//   schema_database.cc     database (and database.listener), pool
//   schema_queue.cc        queue (names and run options)
//   schema_entrypoints.cc  handlers, entrypoints (retry)
//   schema_service.cc      schedules, http, logging, shutdown, migrations
//   schema_retention.cc    retention
//   schema_web.cc          web (`pgq web`)
//   config_schema.cc       the document (top-level keys) and the entry points

#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/masking.h"
#include "config/yaml_reader.h"

namespace pgq::worker::schema {

// ------------------------------------------------------------ table types

/// One key of a section: parsed into P, dumped from E.
template <typename P, typename E = P>
struct KeySpec {
  std::string_view name;
  std::string_view type;  // as in docs/configuration.md
  bool secret = false;    // names a secret file or may hold a secret (masked)
  void (*parse)(const Parser&, const Item&, P&) = nullptr;
  /// Writes `key: value` (or nothing, for unset optional values).
  void (*emit)(YAML::Emitter&, std::string_view key, const E&) = nullptr;
  /// Non-empty: the key is required and this is the problem when it is missing.
  std::string_view required;
};

template <typename P, typename E = P>
struct Section {
  std::vector<KeySpec<P, E>> keys;
  /// Rules across keys: `before` runs once the keys are known to be valid
  /// names, `after` once each has been parsed.
  void (*before)(const Parser&, const Mapping&, P&) = nullptr;
  void (*after)(const Parser&, const Mapping&, P&) = nullptr;

  Keys Names() const {
    Keys names;
    for (const auto& key : keys) names.push_back(key.name);
    return names;
  }
};

template <typename P, typename E>
void ParseSection(const Parser& p, const Item& item, const Section<P, E>& section, P& target) {
  const Mapping m(p, item, section.Names());
  if (section.before) section.before(p, m, target);
  for (const auto& key : section.keys) {
    if (auto v = m.Find(key.name)) {
      key.parse(p, *v, target);
    } else if (!key.required.empty()) {
      p.Fail(m.Missing(key.name), std::string(key.required));
    }
  }
  if (section.after) section.after(p, m, target);
}

template <typename P, typename E>
void EmitSection(YAML::Emitter& out, const Section<P, E>& section, const E& source) {
  out << YAML::BeginMap;
  for (const auto& key : section.keys) key.emit(out, key.name, source);
  out << YAML::EndMap;
}

// One name per enum value, for parsing and for the dump.
template <typename T>
struct Named {
  T value;
  std::string_view name;
};

template <typename T, std::size_t N>
Keys NamesOf(const std::array<Named<T>, N>& table) {
  Keys names;
  for (const auto& entry : table) names.push_back(entry.name);
  return names;
}

template <typename T, std::size_t N>
T ParseNamed(const Parser& p, const Item& item, const std::array<Named<T>, N>& table) {
  const std::string name = p.Enum(item, NamesOf(table));
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return table.front().value;  // unreachable: Enum checked the name
}

template <typename T, std::size_t N>
std::string NameOf(const std::array<Named<T>, N>& table, T value) {
  for (const auto& entry : table) {
    if (entry.value == value) return std::string(entry.name);
  }
  return std::string(table.back().name);
}

// ------------------------------------------------------------ emit helpers

template <typename V>
void Put(YAML::Emitter& out, std::string_view key, const V& value) {
  out << YAML::Key << std::string(key) << YAML::Value << value;
}

inline void PutDuration(YAML::Emitter& out, std::string_view key,
                        std::chrono::milliseconds value) {
  Put(out, key, FormatDuration(value));
}

template <typename V>
void PutOptional(YAML::Emitter& out, std::string_view key, const std::optional<V>& value) {
  if (value) Put(out, key, *value);
}

inline void PutMaskedMap(YAML::Emitter& out, std::string_view key,
                         const std::map<std::string, std::string>& values) {
  if (values.empty()) return;
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : values) {
    out << YAML::Key << name << YAML::Value << (IsSensitiveName(name) ? std::string(kMask) : value);
  }
  out << YAML::EndMap;
}

// ------------------------------------------------------------ queue names

// The queue.prefix / schema / channel values as written (nullopt = unset).
struct QueueNames {
  std::optional<std::string> prefix, schema, channel;
};

// What parsing builds: the configuration plus the queue names that the
// environment may still override.
struct Document {
  WorkerConfig config;
  QueueNames names;
};

// ------------------------------------------------------------ the sections

extern const Section<DatabaseConfig> kDatabase;       // schema_database.cc
extern const Section<DatabaseEndpoint> kListener;     // schema_database.cc
extern const Section<PoolSettings> kPool;             // schema_database.cc
extern const Section<Document, WorkerConfig> kQueue;  // schema_queue.cc
extern const Section<RetryPolicy> kRetry;             // schema_entrypoints.cc
extern const Section<EntrypointConfig> kEntrypoint;   // schema_entrypoints.cc
extern const Section<ScheduleConfig> kSchedule;       // schema_service.cc
extern const Section<HttpConfig> kHttp;               // schema_service.cc
extern const Section<LoggingConfig> kLogging;         // schema_service.cc
extern const Section<WebConfig> kWeb;                 // schema_web.cc
extern const Section<WorkerConfig> kShutdown;         // schema_service.cc
extern const Section<MigrationsConfig> kMigrations;   // schema_service.cc
extern const Section<RunOptions> kRetention;          // schema_retention.cc

/// A `handler:` mapping: its keys depend on its `type` (schema_entrypoints.cc).
HandlerConfig ParseHandler(const Parser& p, const Item& item);
/// Writes `name: {handler}` with the keys of the handler's type.
void PutHandler(YAML::Emitter& out, std::string_view name, const HandlerConfig& handler);
/// Every handler key, of any type.
Keys AllHandlerKeys();

}  // namespace pgq::worker::schema
