#include "cli/migrate_command.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/config_file.h"
#include "cli/cli.h"
#include "config/config.h"
#include "pgq/driver.h"
#include "pgq/schema.h"
#include "pgq/settings.h"

namespace pgq::cli {
namespace {

struct MigrateFlags {
  std::string config_path;
  std::string durability = "durable";
  bool widen_id = false;
  bool plan = false;
  std::string user;  // the migration role, instead of database.user
};

int PrintPlan(const Schema& schema, Executor& db) {
  const auto plan = schema.Plan(db);
  for (const auto& extra : plan.extras) std::cerr << "not pgq's (left alone): " << extra << "\n";
  if (plan.current()) {
    std::cerr << "schema is current (" << schema.settings().QueueTable()
              << "): migrate would run no DDL\n";
    return kExitOk;
  }
  for (const auto& step : plan.steps) {
    std::cout << "-- " << step.what
              << (step.concurrent ? " (outside a transaction)" : " (one transaction)") << "\n"
              << Schema::Render(step.statements) << "\n\n";
  }
  return kExitOk;
}

int Migrate(const MigrateFlags& o) {
  auto loaded = LoadConfigFile(o.config_path);
  if (!loaded) return kExitUsage;
  worker::WorkerConfig config = std::move(*loaded);
  if (!o.user.empty()) {
    // The migration Job's own role (the schema's owner) with its own password
    // file mounted where the workers' would be; a DSN names its user itself.
    if (config.database.dsn_file) {
      std::cerr << "pgq: configuration error: " << o.config_path
                << ": --user cannot be combined with database.dsn_file (the connection string "
                   "names its user; give the migration role a connection string of its own)\n";
      return kExitUsage;
    }
    config.database.user = o.user;
  }
  DBSettings settings = config.settings;
  settings.durability = ParseDurability(o.durability);
  settings.widen_id = o.widen_id;
  const Schema schema(settings);
  // The worker's connection settings and secret files: no password on the command line.
  ConnectionDriver db(config.MigrationConnection());
  if (o.plan) return PrintPlan(schema, db);
  std::cerr << "migrating the pgq schema (" << settings.QueueTable() << "); waiting for any "
            << "other migration of it to finish\n";
  MigrateOptions options;
  options.lock_timeout = config.migrations.lock_timeout;
  options.attempts = config.migrations.attempts;
  options.progress = [](const std::string& message) { std::cerr << message << "\n"; };
  const auto outcome = schema.Migrate(db, options);
  const auto report = schema.VerifyForWorker(db);
  for (const auto& difference : report.differences) std::cerr << difference << "\n";
  if (report.incompatible()) return kExitUsage;
  if (!report.ok()) return kExitFailure;
  switch (outcome) {
    case MigrateOutcome::kCurrent:
      std::cerr << "schema is current (" << settings.QueueTable() << ", the "
                << SpokenPgQueuerSchemas() << " schema contract): no DDL run\n";
      return kExitOk;
    case MigrateOutcome::kInstalled:
      std::cerr << "installed the pgq schema (durability " << o.durability << ")";
      break;
    case MigrateOutcome::kUpgraded:
      std::cerr << "upgraded the pgq schema (only what was missing or stale)";
      break;
  }
  std::cerr << "; a worker can start\n";
  return kExitOk;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<MigrateFlags>();
  auto* migrate = app.add_subcommand(
      "migrate",
      "install the schema when absent, otherwise add only what is missing or stale (no DDL on "
      "a current schema; lock_timeout and retries from migrations:), under an advisory lock, "
      "with the connection of a worker configuration file");
  migrate->add_option("-c,--config", options->config_path, "worker configuration (YAML)")
      ->required();
  migrate->add_option("--durability", options->durability,
                      "volatile | balanced | durable (a first install only)")
      ->check(CLI::IsMember({"volatile", "balanced", "durable"}))
      ->capture_default_str();
  migrate->add_flag("--widen-id", options->widen_id,
                    "widen int4 ids to int8 (rewrites the tables under an exclusive lock)");
  migrate->add_option("--user", options->user,
                      "connect as this role instead of database.user (the schema's owner, e.g. "
                      "pgq_migrator; its password comes from the configured password file)");
  migrate->add_flag("--plan", options->plan,
                    "print the statements migrate would run now, and run none");
  migrate->callback([options, &action] { action = [options] { return Migrate(*options); }; });
}

}  // namespace pgq::cli
