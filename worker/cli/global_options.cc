#include "cli/global_options.h"

#include <cstdlib>

namespace pgq::cli {

void GlobalOptions::Register(CLI::App& app) {
  app.add_option("--dsn", dsn_,
                 "libpq connection string or URI (default: $PGQUEUER_DSN, $PGDSN, then PG* "
                 "variables)");
  app.add_option("--prefix", prefix_, "object-name prefix (default: $PGQUEUER_PREFIX)");
  app.add_option("--schema", schema_, "PostgreSQL schema of the objects (default: $PGQUEUER_SCHEMA)");
}

DBSettings GlobalOptions::Settings() const {
  // Flags override the environment, as PgQueuer's --prefix/--schema do.
  auto lookup = [&](const char* name) -> std::optional<std::string> {
    const std::string key(name);
    if (key == "PGQUEUER_PREFIX" && prefix_) return prefix_;
    if (key == "PGQUEUER_SCHEMA" && schema_) return schema_;
    if (const char* value = std::getenv(name)) return std::string(value);
    return std::nullopt;
  };
  return DBSettings::FromEnv(lookup);
}

std::string GlobalOptions::Dsn() const {
  if (!dsn_.empty()) return dsn_;
  if (const char* dsn = std::getenv("PGQUEUER_DSN")) return dsn;
  if (const char* dsn = std::getenv("PGDSN")) return dsn;
  return "";  // libpq falls back to PGHOST, PGPORT, PGUSER, ...
}

std::unique_ptr<ConnectionDriver> GlobalOptions::Connect() const {
  return std::make_unique<ConnectionDriver>(ConnectionOptions::FromDsn(Dsn()));
}

}  // namespace pgq::cli
