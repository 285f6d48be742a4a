// The configuration schema as one table per section. Each key says its
// name, its type (as docs/configuration.md names it), whether it is secret,
// how it is parsed and validated, and how it is dumped; the lists of valid
// keys (and the "did you mean" suggestions) are derived from the same rows.
// Defaults live in the structs of config.h. Over 500 lines on purpose: the
// table is the one description of the file format and reads best whole.

#include "config/config_schema.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "config/conninfo.h"
#include "config/masking.h"
#include "config/secret_files.h"
#include "pgq/error.h"
#include "pgq/scheduler.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

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

using Type = HandlerConfig::Type;

constexpr std::array<Named<Type>, 6> kHandlerTypes = {{{Type::kExec, "exec"},
                                                       {Type::kHttp, "http"},
                                                       {Type::kSql, "sql"},
                                                       {Type::kNoop, "noop"},
                                                       {Type::kSleep, "sleep"},
                                                       {Type::kFail, "fail"}}};
constexpr std::array<Named<RunMode>, 2> kRunModes = {
    {{RunMode::kContinuous, "continuous"}, {RunMode::kDrain, "drain"}}};
constexpr std::array<Named<OnFailure>, 2> kOnFailure = {
    {{OnFailure::kDelete, "delete"}, {OnFailure::kHold, "hold"}}};
constexpr std::array<Named<bool>, 2> kLogFormats = {{{true, "json"}, {false, "text"}}};

const Keys kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
const Keys kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// ------------------------------------------------------------ emit helpers

template <typename V>
void Put(YAML::Emitter& out, std::string_view key, const V& value) {
  out << YAML::Key << std::string(key) << YAML::Value << value;
}

void PutDuration(YAML::Emitter& out, std::string_view key, milliseconds value) {
  Put(out, key, FormatDuration(value));
}

template <typename V>
void PutOptional(YAML::Emitter& out, std::string_view key, const std::optional<V>& value) {
  if (value) Put(out, key, *value);
}

void PutMaskedMap(YAML::Emitter& out, std::string_view key,
                  const std::map<std::string, std::string>& values) {
  if (values.empty()) return;
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : values) {
    out << YAML::Key << name << YAML::Value << (IsSensitiveName(name) ? std::string(kMask) : value);
  }
  out << YAML::EndMap;
}

// ------------------------------------------------------------ database

constexpr std::string_view kDsnConflict =
    "cannot be combined with database.dsn_file (the DSN file holds the whole connection string)";

const Section<DatabaseConfig> kDatabase{
    {
        {"host", "string", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) { db.host = p.NonEmptyString(v); },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.host);
         }},
        {"port", "integer", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           db.port = static_cast<int>(p.IntBetween(v, 1, 65535));
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.port);
         }},
        {"dbname", "string", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           db.dbname = p.NonEmptyString(v);
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.dbname);
         }},
        {"user", "string", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) { db.user = p.NonEmptyString(v); },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.user);
         }},
        {"sslmode", "enum", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           db.sslmode = p.Enum(v, kSslModes);
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.sslmode);
         }},
        {"application_name", "string", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           db.application_name = p.String(v);
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           Put(o, k, db.application_name);
         }},
        {"connect_timeout", "duration", false,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           db.connect_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           if (db.connect_timeout) PutDuration(o, k, *db.connect_timeout);
         }},
        // Secret files: the dump shows the paths; the contents are never read there.
        {"password_file", "path", true,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           std::string content;
           db.password_file = p.SecretFile(v, content);
           if (TrimPassword(std::move(content)).empty()) {
             p.Fail(v, "file " + *db.password_file + " is empty");
           }
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.password_file);
         }},
        {"dsn_file", "path", true,
         [](const Parser& p, const Item& v, DatabaseConfig& db) {
           std::string content;
           db.dsn_file = p.SecretFile(v, content);
           content = TrimTrailingSpace(std::move(content));
           if (content.empty()) p.Fail(v, "file " + *db.dsn_file + " is empty");
           if (!ParseDsn(content)) {
             p.Fail(v, "file " + *db.dsn_file +
                           " is not a valid libpq connection string or URI (content not shown)");
           }
         },
         [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
           PutOptional(o, k, db.dsn_file);
         }},
    },
    // The DSN file holds the whole connection: the keys it replaces are refused.
    [](const Parser& p, const Mapping& m, DatabaseConfig&) {
      if (!m.Find("dsn_file")) return;
      for (std::string_view key : {"host", "port", "dbname", "user", "password_file"}) {
        if (auto v = m.Find(key)) p.Fail(v->mark, v->path, std::string(kDsnConflict));
      }
    },
};

// ------------------------------------------------------------ pool

const Section<PoolSettings> kPool{
    {
        {"min_size", "integer", false,
         [](const Parser& p, const Item& v, PoolSettings& pool) {
           pool.min_size = static_cast<std::size_t>(p.IntAtLeast(v, 0));
         },
         [](YAML::Emitter& o, std::string_view k, const PoolSettings& pool) {
           Put(o, k, pool.min_size);
         }},
        {"max_size", "integer", false,
         [](const Parser& p, const Item& v, PoolSettings& pool) {
           pool.max_size =
               static_cast<std::size_t>(p.IntAtLeast(v, 2, "the LISTEN connection counts"));
         },
         [](YAML::Emitter& o, std::string_view k, const PoolSettings& pool) {
           Put(o, k, pool.max_size);
         }},
        {"acquire_timeout", "duration", false,
         [](const Parser& p, const Item& v, PoolSettings& pool) {
           pool.acquire_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const PoolSettings& pool) {
           PutDuration(o, k, pool.acquire_timeout);
         }},
        {"max_lifetime", "duration", false,
         [](const Parser& p, const Item& v, PoolSettings& pool) {
           pool.max_lifetime = p.Duration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const PoolSettings& pool) {
           PutDuration(o, k, pool.max_lifetime);
         }},
        {"health_check_interval", "duration", false,
         [](const Parser& p, const Item& v, PoolSettings& pool) {
           pool.health_check_interval = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const PoolSettings& pool) {
           PutDuration(o, k, pool.health_check_interval);
         }},
    },
    nullptr,
    [](const Parser& p, const Mapping& m, PoolSettings& pool) {
      if (pool.min_size <= pool.max_size) return;
      p.Fail(*m.Find("min_size"), "must be <= pool.max_size (" + std::to_string(pool.max_size) +
                                      "); got " + std::to_string(pool.min_size));
    },
};

// ------------------------------------------------------------ queue

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

constexpr std::string_view kIdentifierProblem = "must match ^[A-Za-z_][A-Za-z0-9_]*$";

const Section<Document, WorkerConfig> kQueue{{
    {"prefix", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.prefix = p.String(v);
       if (!d.names.prefix->empty() && !IsIdentifier(*d.names.prefix)) {
         p.Fail(v, std::string(kIdentifierProblem) + " or be empty; got " + Quote(*d.names.prefix));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.prefix);
     }},
    {"schema", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.schema = p.String(v);
       if (!d.names.schema->empty() && !IsIdentifier(*d.names.schema)) {
         p.Fail(v, std::string(kIdentifierProblem) +
                       " (one unquoted name, no dots) or be empty; got " + Quote(*d.names.schema));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.schema);
     }},
    {"channel", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.channel = p.String(v);
       if (!IsIdentifier(*d.names.channel)) {
         p.Fail(v, std::string(kIdentifierProblem) + "; got " + Quote(*d.names.channel));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.channel);
     }},
    {"batch_size", "integer", false,
     [](const Parser& p, const Item& v, Document& d) { d.config.run.batch_size = p.IntAtLeast(v, 1); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.run.batch_size);
     }},
    {"dequeue_timeout", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.dequeue_timeout = p.PositiveDuration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.dequeue_timeout);
     }},
    {"heartbeat_timeout", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.heartbeat_timeout = p.PositiveDuration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.heartbeat_timeout);
     }},
    {"max_concurrent_tasks", "integer", false,
     [](const Parser& p, const Item& v, Document& d) {
       RunOptions& run = d.config.run;
       const std::int64_t cap = p.IntAtLeast(v, 0);
       if (cap == 0) {
         run.max_concurrent_tasks = std::nullopt;
       } else if (cap < 2 * run.batch_size) {
         p.Fail(v, "must be 0 (unbounded) or >= 2 * queue.batch_size (" +
                       std::to_string(2 * run.batch_size) + "); got " + std::to_string(cap));
       } else {
         run.max_concurrent_tasks = cap;
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.run.max_concurrent_tasks.value_or(0));
     }},
    {"mode", "enum", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.mode = ParseNamed(p, v, kRunModes);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, NameOf(kRunModes, c.run.mode));
     }},
    {"statistics_check_interval", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.statistics_check_interval = p.Duration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.statistics_check_interval);
     }},
}};

// ------------------------------------------------------------ handlers

constexpr unsigned Bit(Type type) { return 1u << static_cast<unsigned>(type); }

/// A handler key: which handler types it applies to and requires.
struct HandlerKey {
  KeySpec<HandlerConfig> spec;
  unsigned applies;
  unsigned required = 0;
};

void ParseCommand(const Parser& p, const Item& command, HandlerConfig& h) {
  h.command = p.StringList(command);
  if (h.command.empty()) p.Fail(command, "must name a program (got an empty list)");
  if (h.command.front().empty()) {
    p.Fail(Item{command.node[0], command.node[0].Mark(), command.path + "[0]"},
           "the program must not be empty");
  }
}

void ParseEnv(const Parser& p, const Item& v, HandlerConfig& h) {
  h.env = p.StringMap(v);
  const Mapping names(p, v, {});
  for (const auto& entry : names.entries()) {
    if (entry.key.find('=') != std::string::npos) {
      p.Fail(entry.key_mark, entry.value.path, "environment variable names must not contain \"=\"");
    }
  }
}

void ParseUrl(const Parser& p, const Item& url, HandlerConfig& h) {
  h.url = p.String(url);
  if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0) {
    p.Fail(url, "expected a URL starting with http:// or https://; got " + Quote(MaskUrl(h.url)));
  }
}

void ParseHeaders(const Parser& p, const Item& v, HandlerConfig& h) {
  h.http_headers = p.StringMap(v);
  const Mapping names(p, v, {});
  for (const auto& entry : names.entries()) {
    if (entry.key.find_first_of(":\r\n ") != std::string::npos) {
      p.Fail(entry.key_mark, entry.value.path,
             "header names must not contain ':', spaces or line breaks");
    }
    if (h.http_headers[entry.key].find_first_of("\r\n") != std::string::npos) {
      p.Fail(entry.value, "header values must not contain line breaks");
    }
  }
}

constexpr unsigned kAllTypes = 0x3F;
constexpr unsigned kTimed = Bit(Type::kExec) | Bit(Type::kHttp) | Bit(Type::kSql);

const std::vector<HandlerKey> kHandler = {
    {{"type", "enum", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) {
        h.type = ParseNamed(p, v, kHandlerTypes);
      },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, NameOf(kHandlerTypes, h.type));
      }},
     kAllTypes},
    {{"command", "list of strings", true, &ParseCommand,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        o << YAML::Key << std::string(k) << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& arg : h.command) o << MaskArgument(arg);
        o << YAML::EndSeq;
      }},
     Bit(Type::kExec), Bit(Type::kExec)},
    {{"env", "mapping string → string", true, &ParseEnv,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMaskedMap(o, k, h.env);
      }},
     Bit(Type::kExec)},
    {{"url", "string", true, &ParseUrl,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, MaskUrl(h.url));
      }},
     Bit(Type::kHttp), Bit(Type::kHttp)},
    {{"headers", "mapping string → string", true, &ParseHeaders,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMaskedMap(o, k, h.http_headers);
      }},
     Bit(Type::kHttp)},
    {{"statement", "string", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.statement = p.NonEmptyString(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, h.statement);
      }},
     Bit(Type::kSql), Bit(Type::kSql)},
    {{"duration", "duration", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.duration = p.Duration(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutDuration(o, k, h.duration);
      }},
     Bit(Type::kSleep), Bit(Type::kSleep)},
    {{"message", "string", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.message = p.String(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, h.message);
      }},
     Bit(Type::kFail)},
    {{"timeout", "duration", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.timeout = p.PositiveDuration(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutDuration(o, k, h.timeout);
      }},
     kTimed},
};

Keys HandlerKeyNames(unsigned types) {
  Keys names;
  for (const auto& key : kHandler) {
    if ((key.applies & types) != 0) names.push_back(key.spec.name);
  }
  return names;
}

HandlerConfig ParseHandler(const Parser& p, const Item& item) {
  static const Keys kAll = HandlerKeyNames(kAllTypes);
  const Mapping m(p, item, kAll);
  HandlerConfig handler;
  const auto type_item = m.Find("type");
  if (!type_item) {
    p.Fail(m.Missing("type"), "required (one of " + Join(NamesOf(kHandlerTypes)) + ")");
  }
  handler.type = ParseNamed(p, *type_item, kHandlerTypes);
  const std::string type = NameOf(kHandlerTypes, handler.type);
  const unsigned bit = Bit(handler.type);
  const Keys applicable = HandlerKeyNames(bit);
  for (const auto& entry : m.entries()) {
    if (!Contains(applicable, entry.key)) {
      p.Fail(entry.key_mark, entry.value.path,
             "does not apply to handler type " + type + " (its keys: " + Join(applicable) + ")");
    }
  }
  for (const auto& key : kHandler) {
    if ((key.applies & bit) == 0 || key.spec.name == "type") continue;
    if (auto v = m.Find(key.spec.name)) {
      key.spec.parse(p, *v, handler);
    } else if ((key.required & bit) != 0) {
      p.Fail(m.Missing(key.spec.name), "required for handler type " + type);
    }
  }
  return handler;
}

void PutHandler(YAML::Emitter& out, std::string_view name, const HandlerConfig& handler) {
  out << YAML::Key << std::string(name) << YAML::Value << YAML::BeginMap;
  for (const auto& key : kHandler) {
    if ((key.applies & Bit(handler.type)) != 0) key.spec.emit(out, key.spec.name, handler);
  }
  out << YAML::EndMap;
}

// ------------------------------------------------------------ entrypoints, schedules

const Section<RetryPolicy> kRetry{
    {
        {"max_attempts", "integer", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           const std::int64_t attempts = p.IntAtLeast(v, 0);
           constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
           if (attempts > kMax) {
             p.Fail(v, "must be <= " + std::to_string(kMax) + "; got " + std::to_string(attempts));
           }
           r.max_attempts = static_cast<std::int32_t>(attempts);
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           Put(o, k, r.max_attempts);
         }},
        {"initial_delay", "duration", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           r.initial_delay = duration_cast<microseconds>(p.Duration(v));
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.initial_delay));
         }},
        {"max_delay", "duration", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           const milliseconds max_delay = p.Duration(v);
           if (duration_cast<microseconds>(max_delay) < r.initial_delay) {
             p.Fail(v, "must be >= initial_delay (" +
                           FormatDuration(duration_cast<milliseconds>(r.initial_delay)) +
                           "); got " + FormatDuration(max_delay));
           }
           r.max_delay = duration_cast<microseconds>(max_delay);
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.max_delay));
         }},
        {"multiplier", "number", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           r.multiplier = p.Number(v);
           if (r.multiplier < 1.0) p.Fail(v, "must be >= 1; got " + Describe(v.node));
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           Put(o, k, r.multiplier);
         }},
    },
    nullptr,
    // Left out, max_delay follows a larger initial_delay.
    [](const Parser&, const Mapping& m, RetryPolicy& r) {
      if (!m.Find("max_delay") && r.max_delay < r.initial_delay) r.max_delay = r.initial_delay;
    },
};

const Section<EntrypointConfig> kEntrypoint{{
    {"handler", "mapping", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) { e.handler = ParseHandler(p, v); },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       PutHandler(o, k, e.handler);
     },
     "required"},
    {"concurrency_limit", "integer", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       e.options.concurrency_limit = p.IntAtLeast(v, 0);
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       Put(o, k, e.options.concurrency_limit);
     }},
    {"retry", "mapping", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       RetryPolicy retry;
       ParseSection(p, v, kRetry, retry);
       e.options.retry = retry;
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       if (!e.options.retry) return;
       o << YAML::Key << std::string(k) << YAML::Value;
       EmitSection(o, kRetry, *e.options.retry);
     }},
    {"on_failure", "enum", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       e.options.on_failure = ParseNamed(p, v, kOnFailure);
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       Put(o, k, NameOf(kOnFailure, e.options.on_failure));
     }},
}};

const Section<ScheduleConfig> kSchedule{{
    {"cron", "string", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) {
       s.cron = p.NonEmptyString(v);
       try {
         CronExpression::Parse(s.cron);
       } catch (const LogicError& error) {
         p.Fail(v, error.what());
       }
     },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) { Put(o, k, s.cron); },
     "required (e.g. \"0 3 * * *\")"},
    {"handler", "mapping", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) { s.handler = ParseHandler(p, v); },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) {
       PutHandler(o, k, s.handler);
     },
     "required"},
    {"clean_old", "boolean", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) { s.clean_old = p.Bool(v); },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) {
       Put(o, k, s.clean_old);
     }},
}};

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

// ------------------------------------------------------------ small sections

const Section<HttpConfig> kHttp{{
    {"address", "string", false,
     [](const Parser& p, const Item& v, HttpConfig& h) { h.address = p.NonEmptyString(v); },
     [](YAML::Emitter& o, std::string_view k, const HttpConfig& h) { Put(o, k, h.address); }},
    {"port", "integer", false,
     [](const Parser& p, const Item& v, HttpConfig& h) {
       h.port = static_cast<int>(p.IntBetween(v, 1, 65535));
     },
     [](YAML::Emitter& o, std::string_view k, const HttpConfig& h) { Put(o, k, h.port); }},
}};

const Section<LoggingConfig> kLogging{{
    {"level", "enum", false,
     [](const Parser& p, const Item& v, LoggingConfig& l) { l.level = p.Enum(v, kLogLevels); },
     [](YAML::Emitter& o, std::string_view k, const LoggingConfig& l) { Put(o, k, l.level); }},
    {"format", "enum", false,
     [](const Parser& p, const Item& v, LoggingConfig& l) {
       l.json = ParseNamed(p, v, kLogFormats);
     },
     [](YAML::Emitter& o, std::string_view k, const LoggingConfig& l) {
       Put(o, k, NameOf(kLogFormats, l.json));
     }},
}};

const Section<WorkerConfig> kShutdown{{
    {"grace_period", "duration", false,
     [](const Parser& p, const Item& v, WorkerConfig& c) { c.shutdown_grace = p.Duration(v); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.shutdown_grace);
     }},
}};

// ------------------------------------------------------------ retention

// Ages are whole seconds; 0s (or the key absent) keeps that table forever.
std::chrono::seconds Age(const Parser& p, const Item& v) {
  const milliseconds value = p.Duration(v);
  if (value.count() % 1000 != 0) p.Fail(v, "must be whole seconds; got " + FormatDuration(value));
  return duration_cast<std::chrono::seconds>(value);
}

const Section<RunOptions> kRetention{
    {
        {"log_older_than", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.log_older_than = Age(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.retention.log_older_than));
         }},
        {"statistics_older_than", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.statistics_older_than = Age(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.retention.statistics_older_than));
         }},
        {"interval", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.prune_interval = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.prune_interval);
         }},
        {"batch", "integer", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.batch = p.IntAtLeast(v, 1);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           Put(o, k, r.retention.batch);
         }},
        {"time_budget", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.time_budget = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.time_budget);
         }},
        {"lock_timeout", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.lock_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.lock_timeout);
         }},
        {"statement_timeout", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.statement_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.statement_timeout);
         }},
    },
    nullptr,
    [](const Parser& p, const Mapping& m, RunOptions& r) {
      if (r.retention.statement_timeout > r.retention.lock_timeout) return;
      p.Fail(*m.Find(m.Find("lock_timeout") ? "lock_timeout" : "statement_timeout"),
             "retention.lock_timeout must be shorter than retention.statement_timeout");
    },
};

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
     }},    Nested<&kRetention, &WorkerConfig::run>("retention"),
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

}  // namespace

WorkerConfig ParseDocument(const Parser& p, const YAML::Node& document, const std::string& file,
                           const EnvLookup& env) {
  Document doc;
  doc.config.file = file;
  ParseSection(p, Item{document, document.Mark(), ""}, kTop, doc);
  WorkerConfig& config = doc.config;
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
  AddPaths(out, "pool", kPool);
  AddPaths(out, "queue", kQueue);
  AddPaths(out, "entrypoints.*", kEntrypoint);
  AddPaths(out, "entrypoints.*.retry", kRetry);
  AddPaths(out, "schedules.*", kSchedule);
  for (const auto& key : kHandler) out.push_back(JoinPath("handler", key.spec.name));
  AddPaths(out, "http", kHttp);
  AddPaths(out, "logging", kLogging);
  AddPaths(out, "shutdown", kShutdown);
  return out;
}

}  // namespace pgq::worker
