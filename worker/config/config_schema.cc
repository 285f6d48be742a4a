// The configuration schema as one table per section. Each key says its
// name, its type (as docs/configuration.md names it), whether it is secret,
// how it is parsed and validated, and how it is dumped; the lists of valid
// keys (and the "did you mean" suggestions) are derived from the same rows.
// Defaults live in the structs of config.h. The section tables live in the
// schema_*.cc files (map in schema_table.h); this file holds the top level.

#include "config/config_schema.h"

#include <optional>
#include <string_view>
#include <utility>

#include "config/schema_table.h"
#include "pgq/error.h"

namespace pgq::worker {
namespace {

using schema::AllHandlerKeys;
using schema::Document;
using schema::EmitSection;
using schema::KeySpec;
using schema::ParseSection;
using schema::QueueNames;
using schema::Section;
using schema::kDatabase;
using schema::kEntrypoint;
using schema::kHttp;
using schema::kListener;
using schema::kLogging;
using schema::kPool;
using schema::kQueue;
using schema::kRetry;
using schema::kSchedule;
using schema::kRetention;
using schema::kShutdown;
using schema::kMigrations;
using schema::kWeb;

// `name: {section}` entries, in document order; `what` names them in errors.
template <typename T>
std::vector<T> ParseNamedEntries(const Parser& p, const Item& item, const Section<T>& section,
                                 std::string_view what, std::string_view path) {
  std::vector<T> out;
  const Mapping m(p, item, {});
  for (const auto& entry : m.entries()) {
    if (entry.key.empty()) {
      p.Fail(entry.key_mark, std::string(path), std::string(what) + " names must not be empty");
    }
    T config;
    config.name = entry.key;
    ParseSection(p, entry.value, section, config);
    out.push_back(std::move(config));
  }
  return out;
}

template <typename T>
void PutNamedEntries(YAML::Emitter& out, std::string_view key, const Section<T>& section,
                     const std::vector<T>& entries) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  for (const T& entry : entries) {
    out << YAML::Key << entry.name << YAML::Value;
    EmitSection(out, section, entry);
  }
  out << YAML::EndMap;
}

// A top-level key holding section `S` of the config at `Member`.
template <auto Section, auto Member>
KeySpec<Document, WorkerConfig> Nested(std::string_view name) {
  return {name, "mapping", false,
          [](const Parser& p, const Item& v, Document& d) {
            ParseSection(p, v, *Section, d.config.*Member);
          },
          [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
            o << YAML::Key << std::string(k) << YAML::Value;
            EmitSection(o, *Section, c.*Member);
          }};
}

// ------------------------------------------------------------ the document

const Section<Document, WorkerConfig> kTop{{
    Nested<&kDatabase, &WorkerConfig::database>("database"),
    Nested<&kPool, &WorkerConfig::pool>("pool"),
    {"queue", "mapping", false,
     [](const Parser& p, const Item& v, Document& d) { ParseSection(p, v, kQueue, d); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       o << YAML::Key << std::string(k) << YAML::Value;
       EmitSection(o, kQueue, c);
     }},
    {"entrypoints", "mapping", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.entrypoints = ParseNamedEntries(p, v, kEntrypoint, "entrypoint", "entrypoints");
       if (d.config.entrypoints.empty()) p.Fail(v, "at least one entrypoint is required");
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutNamedEntries(o, k, kEntrypoint, c.entrypoints);
     },
     "at least one entrypoint is required"},
    {"schedules", "mapping", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.schedules = ParseNamedEntries(p, v, kSchedule, "schedule", "schedules");
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       if (!c.schedules.empty()) PutNamedEntries(o, k, kSchedule, c.schedules);
     }},
    Nested<&kHttp, &WorkerConfig::http>("http"),
    Nested<&kLogging, &WorkerConfig::logging>("logging"),
    {"shutdown", "mapping", false,
     [](const Parser& p, const Item& v, Document& d) { ParseSection(p, v, kShutdown, d.config); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       o << YAML::Key << std::string(k) << YAML::Value;
       EmitSection(o, kShutdown, c);
     }},
    Nested<&kRetention, &WorkerConfig::run>("retention"),
    Nested<&kMigrations, &WorkerConfig::migrations>("migrations"),
    Nested<&kWeb, &WorkerConfig::web>("web"),
}};

// PGQUEUER_* from the environment first (with PgQueuer's legacy names), the
// config's queue.prefix / schema / channel where the environment is silent.
DBSettings::EnvLookup Layered(const EnvLookup& env, const QueueNames& names) {
  return [env, names](const char* name) -> std::optional<std::string> {
    const auto from_env = [&](const char* var) -> std::optional<std::string> {
      if (!env || var == nullptr) return std::nullopt;
      auto value = env(var);
      if (value && value->empty()) return std::nullopt;
      return value;
    };
    if (auto value = from_env(name)) return value;
    const std::string_view var(name);
    const auto config = [&](const std::optional<std::string>& value,
                            const char* legacy) -> std::optional<std::string> {
      // A legacy variable in the environment still beats the file.
      if (from_env(legacy)) return std::nullopt;
      return value;
    };
    if (var == "PGQUEUER_PREFIX") return config(names.prefix, nullptr);
    if (var == "PGQUEUER_SCHEMA") return config(names.schema, "DB_SCHEMA");
    if (var == "PGQUEUER_CHANNEL") return config(names.channel, "CHANNEL");
    return std::nullopt;
  };
}

template <typename P, typename E>
void AddPaths(std::vector<std::string>& out, const std::string& prefix,
              const Section<P, E>& section) {
  for (const auto& key : section.keys) out.push_back(JoinPath(prefix, key.name));
}

// A statement timeout on the pool's connections also bounds the statements
// of sql handlers: each handler's own timeout must fit under it, or the
// server would cancel the statement first (with a less helpful error).
void CheckSqlTimeouts(const Parser& p, const YAML::Node& document, const WorkerConfig& config) {
  const auto limit = config.database.statement_timeout;
  if (limit.count() <= 0) return;
  const auto check = [&](std::string_view section, const std::string& name,
                         const HandlerConfig& handler) {
    if (handler.type != HandlerConfig::Type::kSql || handler.timeout <= limit) return;
    const YAML::Node node = document[std::string(section)][name]["handler"];
    const YAML::Node timeout = node["timeout"];
    const std::string path = std::string(section) + "." + name + ".handler.timeout";
    p.Fail(timeout ? timeout.Mark() : node.Mark(), path,
           FormatDuration(handler.timeout) + (timeout ? "" : " (the default)") +
               " is longer than database.statement_timeout (" + FormatDuration(limit) +
               "): the server would cancel the statement first; lower this timeout or raise "
               "database.statement_timeout (0s: no limit)");
  };
  for (const auto& e : config.entrypoints) check("entrypoints", e.name, e.handler);
  for (const auto& s : config.schedules) check("schedules", s.name, s.handler);
}

}  // namespace

WorkerConfig ParseDocument(const Parser& p, const YAML::Node& document, const std::string& file,
                           const EnvLookup& env) {
  Document doc;
  doc.config.file = file;
  ParseSection(p, Item{document, document.Mark(), ""}, kTop, doc);
  WorkerConfig& config = doc.config;
  CheckSqlTimeouts(p, document, config);
  config.run.shutdown_grace = config.shutdown_grace;
  try {
    config.settings = DBSettings::FromEnv(Layered(env, doc.names));
  } catch (const LogicError& error) {
    // The file's own values were checked above, so the environment is at fault.
    throw ConfigError(file, 0, 0, "", std::string(error.what()) + " (from the environment)");
  }
  return std::move(doc.config);
}

void EmitMasked(YAML::Emitter& out, const WorkerConfig& config) {
  EmitSection(out, kTop, config);
}

std::vector<std::string> SchemaKeyPaths() {
  std::vector<std::string> out;
  AddPaths(out, "", kTop);
  AddPaths(out, "database", kDatabase);
  AddPaths(out, "database.listener", kListener);
  AddPaths(out, "pool", kPool);
  AddPaths(out, "queue", kQueue);
  AddPaths(out, "entrypoints.*", kEntrypoint);
  AddPaths(out, "entrypoints.*.retry", kRetry);
  AddPaths(out, "schedules.*", kSchedule);
  for (const auto& key : AllHandlerKeys()) out.push_back(JoinPath("handler", key));
  AddPaths(out, "http", kHttp);
  AddPaths(out, "logging", kLogging);
  AddPaths(out, "shutdown", kShutdown);
  AddPaths(out, "retention", kRetention);
  AddPaths(out, "migrations", kMigrations);
  AddPaths(out, "web", kWeb);
  return out;
}

}  // namespace pgq::worker
