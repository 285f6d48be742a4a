#include "cli/prune.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "config/config.h"
#include "pgq/retention.h"

namespace pgq::cli {
namespace {

struct PruneArgs {
  std::string log_older_than;
  std::string statistics_older_than;
  std::string time_budget;
  std::string lock_timeout = "1s";
  std::string statement_timeout = "60s";
  std::int64_t batch = kDefaultPruneBatch;
  bool dry_run = false;
  std::string config_path;
};

// Both throw std::invalid_argument naming the flag.
std::chrono::milliseconds Millis(const std::string& flag, const std::string& text) {
  try {
    return worker::ParseDuration(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(flag + ": " + e.what());
  }
}

std::chrono::seconds Age(const std::string& flag, const std::string& text) {
  if (text.empty()) return std::chrono::seconds(0);
  const auto value = Millis(flag, text);
  if (value.count() % 1000 != 0) throw std::invalid_argument(flag + ": whole seconds only");
  return std::chrono::duration_cast<std::chrono::seconds>(value);
}

int Run(const PruneArgs& args, const PruneTarget& target) {
  RetentionPolicy policy;
  try {
    policy.log_older_than = Age("--log-older-than", args.log_older_than);
    policy.statistics_older_than = Age("--statistics-older-than", args.statistics_older_than);
    // Without a budget the run goes on until both tables are pruned.
    policy.time_budget = args.time_budget.empty() ? std::chrono::hours(24 * 365)
                                                  : Millis("--time-budget", args.time_budget);
    policy.lock_timeout = Millis("--lock-timeout", args.lock_timeout);
    policy.statement_timeout = Millis("--statement-timeout", args.statement_timeout);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pgq prune: " << e.what() << "\n";
    return kExitUsage;
  }
  if (!policy.enabled()) {
    std::cerr << "pgq prune: give --log-older-than and/or --statistics-older-than (e.g. 7d)\n";
    return kExitUsage;
  }
  if (args.batch < 1) {
    std::cerr << "pgq prune: --batch must be at least 1\n";
    return kExitUsage;
  }
  policy.batch = args.batch;
  policy.dry_run = args.dry_run;
  // With --config, the connection (secret files included) and the queue's
  // names come from a worker configuration, e.g. the fleet's ConfigMap.
  std::optional<worker::WorkerConfig> config;
  if (!args.config_path.empty()) {
    try {
      config = worker::LoadConfig(args.config_path, [](const char* name) -> std::optional<std::string> {
        if (const char* value = std::getenv(name)) return std::string(value);
        return std::nullopt;
      });
    } catch (const worker::ConfigError& e) {
      std::cerr << "pgq: configuration error: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  const DBSettings settings = config ? config->settings : target.settings();
  ConnectionDriver db(config ? config->Connection() : target.connection());
  RetentionQueries retention(db, settings);
  const PruneReport report = retention.Prune(policy);
  if (!report.ran) {
    std::cerr << "pgq prune: another process holds the prune lock (a worker is pruning); "
                 "nothing done\n";
    return kExitPruneLocked;
  }
  const char* verb = policy.dry_run ? "would delete" : "deleted";
  std::printf("%s %lld log rows (older than %s, of finished jobs, aggregated) from %s\n", verb,
              static_cast<long long>(report.log_rows),
              args.log_older_than.empty() ? "-, log retention off" : args.log_older_than.c_str(),
              settings.LogTable().c_str());
  std::printf("%s %lld statistics rows (older than %s) from %s\n", verb,
              static_cast<long long>(report.statistics_rows),
              args.statistics_older_than.empty() ? "-, statistics retention off"
                                                 : args.statistics_older_than.c_str(),
              settings.StatisticsTable().c_str());
  std::printf("took %.3f s in %lld batches of up to %lld rows%s\n", report.took.count(),
              static_cast<long long>(report.batches), static_cast<long long>(policy.batch),
              report.yielded    ? "; stopped: another process took the prune lock"
              : report.complete ? ""
                                : "; stopped at the time budget, more to prune");
  return kExitOk;
}

}  // namespace

void AddPruneCommand(CLI::App& app, std::function<int()>& action, PruneTarget target) {
  auto args = std::make_shared<PruneArgs>();
  auto* prune = app.add_subcommand(
      "prune", "delete old log rows of finished jobs and old statistics, in small batches");
  prune->add_option("--log-older-than", args->log_older_than,
                    "prune log rows older than this (e.g. 7d) whose job finished and that "
                    "were aggregated into statistics");
  prune->add_option("--statistics-older-than", args->statistics_older_than,
                    "prune statistics rows older than this (e.g. 90d)");
  prune->add_option("-c,--config", args->config_path,
                    "take the connection and the queue's names from this worker configuration "
                    "(YAML) instead of --dsn/--prefix/--schema");
  prune->add_flag("--dry-run", args->dry_run, "count what would be deleted, delete nothing");
  prune->add_option("--batch", args->batch, "rows per batch (one short transaction each)")
      ->capture_default_str();
  prune->add_option("--time-budget", args->time_budget,
                    "stop starting batches after this long (default: run until done)");
  prune->add_option("--lock-timeout", args->lock_timeout, "per batch")->capture_default_str();
  prune->add_option("--statement-timeout", args->statement_timeout, "per batch")
      ->capture_default_str();
  prune->callback([&action, args, target = std::move(target)] {
    action = [args, target] { return Run(*args, target); };
  });
}

}  // namespace pgq::cli
