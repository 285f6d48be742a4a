// The database: (with database.listener:) and pool: sections of the configuration schema.

#include "config/schema_table.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/secret_files.h"
#include "pgq/conninfo.h"
#include "util/text.h"

namespace pgq::worker::schema {
namespace {

const Keys kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

// ------------------------------------------------------------ database

// libpq counts keepalive times in whole seconds.
std::chrono::seconds WholeSeconds(const Parser& p, const Item& v) {
  const std::chrono::milliseconds value = p.PositiveDuration(v);
  if (value.count() % 1000 != 0) {
    p.Fail(v, "must be whole seconds (libpq counts keepalive times in seconds); got " +
                  FormatDuration(value));
  }
  return std::chrono::duration_cast<std::chrono::seconds>(value);
}

constexpr std::string_view kDsnConflict =
    "cannot be combined with database.dsn_file (the DSN file holds the whole connection string)";

// A TLS file: it must be readable now (libpq reads it again on every connect).
template <typename D, std::optional<std::string> DatabaseEndpoint::*Member>
void ParseTlsFile(const Parser& p, const Item& v, D& e) {
  std::string content;
  e.*Member = p.SecretFile(v, content);
  if (content.empty()) p.Fail(v, "file " + *(e.*Member) + " is empty");
}

template <typename D, std::optional<std::string> DatabaseEndpoint::*Member>
void PutEndpointKey(YAML::Emitter& o, std::string_view k, const D& e) {
  PutOptional(o, k, e.*Member);
}

// The keys `database:` and `database.listener:` share (D is either).
template <typename D>
std::vector<KeySpec<D>> EndpointKeys() {
  using E = DatabaseEndpoint;
  return {
      {"host", "string", false,
       [](const Parser& p, const Item& v, D& e) { e.host = p.NonEmptyString(v); },
       PutEndpointKey<D, &E::host>},
      {"port", "integer", false,
       [](const Parser& p, const Item& v, D& e) {
         e.port = static_cast<int>(p.IntBetween(v, 1, 65535));
       },
       [](YAML::Emitter& o, std::string_view k, const D& e) { PutOptional(o, k, e.port); }},
      {"dbname", "string", false,
       [](const Parser& p, const Item& v, D& e) { e.dbname = p.NonEmptyString(v); },
       PutEndpointKey<D, &E::dbname>},
      {"user", "string", false,
       [](const Parser& p, const Item& v, D& e) { e.user = p.NonEmptyString(v); },
       PutEndpointKey<D, &E::user>},
      {"sslmode", "enum", false,
       [](const Parser& p, const Item& v, D& e) { e.sslmode = p.Enum(v, kSslModes); },
       PutEndpointKey<D, &E::sslmode>},
      {"sslrootcert", "path", false, ParseTlsFile<D, &E::sslrootcert>,
       PutEndpointKey<D, &E::sslrootcert>},
      {"sslcert", "path", false, ParseTlsFile<D, &E::sslcert>, PutEndpointKey<D, &E::sslcert>},
      // The dump shows the path; the key itself is never read by pgq.
      {"sslkey", "path", true,
       [](const Parser& p, const Item& v, D& e) {
         ParseTlsFile<D, &E::sslkey>(p, v, e);
         if (auto problem = KeyFilePermissionProblem(*e.sslkey); !problem.empty()) {
           p.Fail(v, problem);
         }
       },
       PutEndpointKey<D, &E::sslkey>},
      {"sslcrl", "path", false, ParseTlsFile<D, &E::sslcrl>, PutEndpointKey<D, &E::sslcrl>},
      // Secret files: the dump shows the paths; the contents are never read there.
      {"password_file", "path", true,
       [](const Parser& p, const Item& v, D& e) {
         std::string content;
         e.password_file = p.SecretFile(v, content);
         if (TrimPassword(std::move(content)).empty()) {
           p.Fail(v, "file " + *e.password_file + " is empty");
         }
       },
       PutEndpointKey<D, &E::password_file>},
  };
}

// sslcert and sslkey come as a pair.
template <typename D>
void RequireKeyPair(const Parser& p, const Mapping& m, D&) {
  auto cert = m.Find("sslcert");
  auto key = m.Find("sslkey");
  if (cert && !key) p.Fail(cert->mark, cert->path, "needs sslkey (the client certificate's key)");
  if (key && !cert) p.Fail(key->mark, key->path, "needs sslcert (the key's certificate)");
}

std::vector<KeySpec<DatabaseConfig>> DatabaseKeys() {
  auto keys = EndpointKeys<DatabaseConfig>();
  std::vector<KeySpec<DatabaseConfig>> more{
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
      {"keepalives", "boolean", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) { db.keepalives = p.Bool(v); },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         Put(o, k, db.keepalives);
       }},
      {"keepalives_idle", "duration", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.keepalives_idle = WholeSeconds(p, v);
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         PutDuration(o, k, db.keepalives_idle);
       }},
      {"keepalives_interval", "duration", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.keepalives_interval = WholeSeconds(p, v);
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         PutDuration(o, k, db.keepalives_interval);
       }},
      {"keepalives_count", "integer", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.keepalives_count = static_cast<int>(p.IntBetween(v, 1, 100));
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         Put(o, k, db.keepalives_count);
       }},
      {"tcp_user_timeout", "duration", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.tcp_user_timeout = p.Duration(v);
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         PutDuration(o, k, db.tcp_user_timeout);
       }},
      {"statement_timeout", "duration", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.statement_timeout = p.Duration(v);
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         PutDuration(o, k, db.statement_timeout);
       }},
      {"dsn_file", "path", true,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         std::string content;
         db.dsn_file = p.SecretFile(v, content);
         content = TrimTrailingSpace(std::move(content));
         if (content.empty()) p.Fail(v, "file " + *db.dsn_file + " is empty");
         if (!ParseConninfo(content)) {
           p.Fail(v, "file " + *db.dsn_file +
                         " is not a valid libpq connection string or URI (content not shown)");
         }
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         PutOptional(o, k, db.dsn_file);
       }},
      {"prepared_statements", "boolean", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         db.prepared_statements = p.Bool(v);
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         Put(o, k, db.prepared_statements);
       }},
      {"listener", "mapping", false,
       [](const Parser& p, const Item& v, DatabaseConfig& db) {
         ParseSection(p, v, kListener, db.listener.emplace());
       },
       [](YAML::Emitter& o, std::string_view k, const DatabaseConfig& db) {
         if (!db.listener) return;
         o << YAML::Key << std::string(k) << YAML::Value;
         EmitSection(o, kListener, *db.listener);
       }},
  };
  keys.insert(keys.end(), more.begin(), more.end());
  return keys;
}

}  // namespace

const Section<DatabaseEndpoint> kListener{EndpointKeys<DatabaseEndpoint>(), nullptr,
                                          RequireKeyPair<DatabaseEndpoint>};

const Section<DatabaseConfig> kDatabase{
    DatabaseKeys(),
    // The DSN file holds the whole connection: the keys it replaces are refused.
    [](const Parser& p, const Mapping& m, DatabaseConfig&) {
      if (!m.Find("dsn_file")) return;
      for (std::string_view key : {"host", "port", "dbname", "user", "password_file"}) {
        if (auto v = m.Find(key)) p.Fail(v->mark, v->path, std::string(kDsnConflict));
      }
    },
    RequireKeyPair<DatabaseConfig>,
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

}  // namespace pgq::worker::schema
