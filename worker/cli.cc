#include "cli.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "pgq/driver.h"
#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/schema.h"
#include "pgq/settings.h"

namespace pgq::cli {
namespace {

struct Globals {
  std::string dsn;
  std::optional<std::string> prefix;
  std::optional<std::string> schema;
};

DBSettings SettingsFrom(const Globals& g) {
  // Flags override the environment, as PgQueuer's --prefix/--schema do.
  auto lookup = [&](const char* name) -> std::optional<std::string> {
    const std::string key(name);
    if (key == "PGQUEUER_PREFIX" && g.prefix) return g.prefix;
    if (key == "PGQUEUER_SCHEMA" && g.schema) return g.schema;
    if (const char* value = std::getenv(name)) return std::string(value);
    return std::nullopt;
  };
  return DBSettings::FromEnv(lookup);
}

std::string DsnFrom(const Globals& g) {
  if (!g.dsn.empty()) return g.dsn;
  if (const char* dsn = std::getenv("PGQUEUER_DSN")) return dsn;
  if (const char* dsn = std::getenv("PGDSN")) return dsn;
  return "";  // libpq falls back to PGHOST, PGPORT, PGUSER, ...
}

std::unique_ptr<ConnectionDriver> Connect(const Globals& g) {
  return std::make_unique<ConnectionDriver>(ConnectionOptions::FromDsn(DsnFrom(g)));
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"pgq: PgQueuer-compatible PostgreSQL job queue (schema, producer and admin tools)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--dsn", g.dsn,
                 "libpq connection string or URI (default: $PGQUEUER_DSN, $PGDSN, then PG* "
                 "variables)");
  app.add_option("--prefix", g.prefix, "object-name prefix (default: $PGQUEUER_PREFIX)");
  app.add_option("--schema", g.schema, "PostgreSQL schema of the objects (default: $PGQUEUER_SCHEMA)");

  std::function<int()> action;

  // install
  auto* install = app.add_subcommand("install", "create the queue tables, enum, function and trigger");
  std::string install_durability = "durable";
  bool no_create_schema = false;
  install->add_option("--durability", install_durability, "volatile | balanced | durable")
      ->capture_default_str();
  install->add_flag("--no-create-schema", no_create_schema,
                    "do not CREATE SCHEMA (the schema must exist)");
  install->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      settings.durability = ParseDurability(install_durability);
      Schema schema(settings);
      auto db = Connect(g);
      schema.Install(*db, !no_create_schema);
      std::cerr << "installed pgq schema (" << schema.settings().QueueTable() << ", durability "
                << ToString(settings.durability) << ")\n";
      return kExitOk;
    };
  });

  // uninstall
  auto* uninstall = app.add_subcommand("uninstall", "drop every queue object (and its data)");
  uninstall->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.Uninstall(*db);
      std::cerr << "uninstalled pgq schema\n";
      return kExitOk;
    };
  });

  // upgrade
  auto* upgrade = app.add_subcommand("upgrade", "apply idempotent migrations, one statement at a time");
  std::optional<std::string> upgrade_durability;
  bool no_widen_id = false;
  upgrade->add_option("--durability", upgrade_durability, "volatile | balanced | durable");
  upgrade->add_flag("--no-widen-id", no_widen_id, "keep int4 ids (skips the table rewrite)");
  upgrade->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      if (upgrade_durability) settings.durability = ParseDurability(*upgrade_durability);
      if (no_widen_id) settings.widen_id = false;
      Schema schema(settings);
      auto db = Connect(g);
      schema.Upgrade(*db);
      std::cerr << "upgraded pgq schema\n";
      return kExitOk;
    };
  });

  // verify
  auto* verify = app.add_subcommand("verify", "check the tables, function and trigger (exit 1 on a difference)");
  std::string expect = "present";
  verify->add_option("--expect", expect, "present | absent")
      ->check(CLI::IsMember({"present", "absent"}))
      ->capture_default_str();
  verify->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      const auto report =
          schema.Verify(*db, expect == "present" ? Expect::kPresent : Expect::kAbsent);
      for (const auto& difference : report.differences) std::cout << difference << "\n";
      if (report.ok()) std::cout << "ok: every object is " << expect << "\n";
      return report.ok() ? kExitOk : kExitFailure;
    };
  });

  // sql
  auto* sql = app.add_subcommand("sql", "print SQL without connecting");
  sql->require_subcommand(1);
  std::string sql_durability = "durable";
  bool sql_no_create_schema = false;
  bool sql_no_widen_id = false;
  bool sql_rollback = false;
  auto print = [](const std::vector<std::string>& statements) {
    std::cout << Schema::Render(statements) << "\n";
  };
  auto* sql_install = sql->add_subcommand("install", "the install script");
  sql_install->add_option("--durability", sql_durability, "volatile | balanced | durable")
      ->capture_default_str();
  sql_install->add_flag("--no-create-schema", sql_no_create_schema, "omit CREATE SCHEMA");
  sql_install->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      settings.durability = ParseDurability(sql_durability);
      print(Schema(settings).InstallStatements(!sql_no_create_schema));
      return kExitOk;
    };
  });
  sql->add_subcommand("uninstall", "the uninstall script")->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).UninstallStatements());
      return kExitOk;
    };
  });
  auto* sql_upgrade = sql->add_subcommand("upgrade", "the upgrade statements");
  sql_upgrade->add_flag("--no-widen-id", sql_no_widen_id, "omit the id widening");
  sql_upgrade->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      if (sql_no_widen_id) settings.widen_id = false;
      print(Schema(settings).UpgradeStatements());
      return kExitOk;
    };
  });
  auto* sql_durability_cmd = sql->add_subcommand("durability", "ALTER TABLE ... SET [UN]LOGGED");
  std::string sql_level;
  sql_durability_cmd->add_option("level", sql_level, "volatile | balanced | durable")->required();
  sql_durability_cmd->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).DurabilityStatements(ParseDurability(sql_level)));
      return kExitOk;
    };
  });
  auto* sql_autovac = sql->add_subcommand("autovac", "the autovacuum preset");
  sql_autovac->add_flag("--rollback", sql_rollback, "RESET instead of SET");
  sql_autovac->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).AutovacStatements(sql_rollback));
      return kExitOk;
    };
  });

  // durability
  auto* durability = app.add_subcommand("durability", "switch tables between LOGGED and UNLOGGED (no data loss)");
  std::string level;
  durability->add_option("level", level, "volatile | balanced | durable")->required();
  durability->callback([&] {
    action = [&] {
      const auto parsed = ParseDurability(level);
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.SetDurability(*db, parsed);
      std::cerr << "durability set to " << ToString(parsed) << "\n";
      return kExitOk;
    };
  });

  // autovac
  auto* autovac = app.add_subcommand("autovac", "apply (or --rollback) the autovacuum preset");
  bool rollback = false;
  autovac->add_flag("--rollback", rollback, "RESET the settings");
  autovac->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.Autovac(*db, rollback);
      std::cerr << (rollback ? "autovacuum preset reset\n" : "autovacuum preset applied\n");
      return kExitOk;
    };
  });

  // queue
  auto* queue = app.add_subcommand("queue", "enqueue one job");
  std::string entrypoint;
  std::optional<std::string> payload;
  int priority = 0;
  std::optional<std::string> dedupe_key;
  std::string on_conflict = "raise";
  std::optional<std::string> headers;
  queue->add_option("entrypoint", entrypoint, "handler name")->required();
  queue->add_option("payload", payload, "payload (stored as UTF-8 bytes; omitted = NULL)");
  queue->add_option("--priority", priority, "higher runs sooner")->capture_default_str();
  queue->add_option("--dedupe-key", dedupe_key, "refuse (or skip) while a live job holds this key");
  queue->add_option("--on-conflict", on_conflict, "raise | skip")
      ->check(CLI::IsMember({"raise", "skip"}))
      ->capture_default_str();
  queue->add_option("--headers", headers, "JSON object stored in the headers column");
  queue->callback([&] {
    action = [&] {
      SyncDriver driver(ConnectionOptions::FromDsn(DsnFrom(g)));
      ProducerQueries producer(driver, SettingsFrom(g));
      NewJob job;
      job.entrypoint = entrypoint;
      job.payload = payload;
      job.priority = priority;
      job.dedupe_key = dedupe_key;
      job.headers = headers;
      auto ids = producer.Enqueue({job}, on_conflict == "skip" ? OnConflict::kSkip
                                                                : OnConflict::kRaise);
      if (ids.front()) {
        std::cout << *ids.front() << "\n";
      } else {
        std::cerr << "skipped: a live job already holds dedupe key " << dedupe_key.value_or("")
                  << "\n";
      }
      return kExitOk;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    return action ? action() : kExitUsage;
  } catch (const DuplicateJobError& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitFailure;
  } catch (const LogicError& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace pgq::cli
