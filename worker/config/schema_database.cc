// The database: and pool: sections of the configuration schema.

#include "config/schema_table.h"

#include <cstddef>
#include <string>
#include <utility>

#include "config/secret_files.h"
#include "driver/conninfo.h"
#include "util/text.h"

namespace pgq::worker::schema {
namespace {

const Keys kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

// ------------------------------------------------------------ database

constexpr std::string_view kDsnConflict =
    "cannot be combined with database.dsn_file (the DSN file holds the whole connection string)";

}  // namespace

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
           if (!detail::ParseConninfo(content)) {
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

}  // namespace pgq::worker::schema
