#include "cli/migrate_command.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "config/config.h"
#include "pgq/driver.h"
#include "pgq/schema.h"
#include "pgq/settings.h"

namespace pgq::cli {
namespace {

struct MigrateOptions {
  std::string config_path;
  std::string durability = "durable";
  bool widen_id = false;
};

int Migrate(const MigrateOptions& o) {
  auto env = [](const char* name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name)) return std::string(value);
    return std::nullopt;
  };
  worker::WorkerConfig config;
  try {
    config = worker::LoadConfig(o.config_path, env);
  } catch (const worker::ConfigError& e) {
    std::cerr << "pgq: configuration error: " << e.what() << "\n";
    return kExitUsage;
  }
  DBSettings settings = config.settings;
  settings.durability = ParseDurability(o.durability);
  settings.widen_id = o.widen_id;
  const Schema schema(settings);
  // The worker's connection settings and secret files: no password on the command line.
  ConnectionDriver db(config.MigrationConnection());
  std::cerr << "migrating the pgq schema (" << settings.QueueTable() << "); waiting for any "
            << "other migration of it to finish\n";
  const auto outcome = schema.Migrate(db);
  const auto report = schema.VerifyForWorker(db);
  for (const auto& difference : report.differences) std::cerr << difference << "\n";
  if (!report.ok()) return kExitFailure;
  std::cerr << (outcome == MigrateOutcome::kInstalled
                    ? "installed the pgq schema (durability " + o.durability + ")"
                    : std::string("upgraded the pgq schema") +
                          (o.widen_id ? " (ids widened to bigint)" : ""))
            << "; a worker can start\n";
  return kExitOk;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<MigrateOptions>();
  auto* migrate = app.add_subcommand(
      "migrate",
      "install the schema when absent, upgrade it otherwise (under an advisory lock), with the "
      "connection of a worker configuration file");
  migrate->add_option("-c,--config", options->config_path, "worker configuration (YAML)")
      ->required();
  migrate->add_option("--durability", options->durability,
                      "volatile | balanced | durable (a first install only)")
      ->check(CLI::IsMember({"volatile", "balanced", "durable"}))
      ->capture_default_str();
  migrate->add_flag("--widen-id", options->widen_id,
                    "widen int4 ids to int8 (rewrites the tables under an exclusive lock)");
  migrate->callback([options, &action] { action = [options] { return Migrate(*options); }; });
}

}  // namespace pgq::cli
