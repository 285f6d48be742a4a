#include "cli/prune_command.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/config_file.h"
#include "cli/cli.h"
#include "config/config.h"
#include "pgq/index_maintenance.h"
#include "pgq/retention.h"

namespace pgq::cli {
namespace {

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

}  // namespace

int PruneCommand::Run() const {
  RetentionPolicy policy;
  try {
    policy.log_older_than = Age("--log-older-than", log_older_than_);
    policy.statistics_older_than = Age("--statistics-older-than", statistics_older_than_);
    policy.held_older_than = Age("--held-older-than", held_older_than_);
    // Without a budget the run goes on until both tables are pruned.
    policy.time_budget = time_budget_.empty() ? std::chrono::hours(24 * 365)
                                              : Millis("--time-budget", time_budget_);
    policy.lock_timeout = Millis("--lock-timeout", lock_timeout_);
    policy.statement_timeout = Millis("--statement-timeout", statement_timeout_);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pgq prune: " << e.what() << "\n";
    return kExitUsage;
  }
  if (!policy.enabled() && !reindex_bloated_) {
    std::cerr << "pgq prune: give --log-older-than, --held-older-than, --statistics-older-than "
                 "(e.g. 7d) and/or --reindex-bloated\n";
    return kExitUsage;
  }
  if (bloat_ratio_ < 1.0 || reindex_min_size_ < 0) {
    std::cerr << "pgq prune: --bloat-ratio must be at least 1 and --reindex-min-size at least 0\n";
    return kExitUsage;
  }
  if (batch_ < 1) {
    std::cerr << "pgq prune: --batch must be at least 1\n";
    return kExitUsage;
  }
  policy.batch = batch_;
  policy.dry_run = dry_run_;
  // With --config, the connection (secret files included) and the queue's
  // names come from a worker configuration, e.g. the fleet's ConfigMap.
  std::optional<worker::WorkerConfig> config;
  if (!config_path_.empty()) {
    config = LoadConfigFile(config_path_);
    if (!config) return kExitUsage;
  }
  const DBSettings settings = config ? config->settings : globals_.Settings();
  ConnectionDriver db(config ? config->Connection() : ConnectionOptions::FromDsn(globals_.Dsn()));
  int exit_code = kExitOk;
  if (policy.enabled()) exit_code = Prune(db, settings, policy);
  if (reindex_bloated_ && exit_code == kExitOk) {
    ReindexPolicy reindex;
    reindex.min_ratio = bloat_ratio_;
    reindex.min_bytes = reindex_min_size_;
    reindex.dry_run = dry_run_;
    try {
      reindex.lock_timeout = Millis("--lock-timeout", lock_timeout_);
    } catch (const std::invalid_argument& e) {
      std::cerr << "pgq prune: " << e.what() << "\n";
      return kExitUsage;
    }
    exit_code = Reindex(db, settings, reindex);
  }
  return exit_code;
}

int PruneCommand::Reindex(Executor& db, const DBSettings& settings,
                          const ReindexPolicy& policy) const {
  const auto mib = [](std::int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; };
  const ReindexReport report = IndexMaintenance(db, settings).ReindexBloated(policy);
  if (!report.ran) {
    std::cerr << "pgq prune: another process holds the reindex lock; no index rebuilt\n";
    return kExitPruneLocked;
  }
  if (!report.leftovers_error.empty()) {
    std::printf("dropping an invalid copy an earlier failed rebuild left failed: %s\n",
                report.leftovers_error.c_str());
  }
  if (report.indexes.empty()) {
    std::printf("no index of %s or %s is %.1f times its estimated size and %.1f MiB large\n",
                settings.QueueTable().c_str(), settings.LogTable().c_str(), policy.min_ratio,
                mib(policy.min_bytes));
  }
  int exit_code = kExitOk;
  for (const auto& r : report.indexes) {
    if (policy.dry_run) {
      std::printf("would reindex %s (%s): %.1f MiB, estimated %.1f MiB fresh (%.1fx)\n",
                  r.before.qualified.c_str(), r.before.table.c_str(), mib(r.before.bytes),
                  mib(r.before.estimated_bytes), r.before.BloatRatio());
    } else if (r.error.empty()) {
      std::printf("reindexed %s (%s) concurrently: %.1f MiB -> %.1f MiB in %.3f s\n",
                  r.before.qualified.c_str(), r.before.table.c_str(), mib(r.before.bytes),
                  mib(r.bytes_after), r.took.count());
    } else {
      std::printf("reindexing %s failed after %.3f s (left as it was): %s\n",
                  r.before.qualified.c_str(), r.took.count(), r.error.c_str());
      exit_code = kExitFailure;
    }
  }
  return exit_code;
}

int PruneCommand::Prune(Executor& db, const DBSettings& settings,
                        const RetentionPolicy& policy) const {
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
              log_older_than_.empty() ? "-, log retention off" : log_older_than_.c_str(),
              settings.LogTable().c_str());
  std::string held;
  for (const auto& [entrypoint, jobs] : report.held_by_entrypoint) {
    held += (held.empty() ? "" : ", ") + entrypoint + "=" + std::to_string(jobs);
  }
  std::printf("%s %lld held jobs with %lld log rows (held longer than %s)%s%s%s from %s\n", verb,
              static_cast<long long>(report.held_jobs),
              static_cast<long long>(report.held_log_rows),
              held_older_than_.empty() ? "-, held-job retention off" : held_older_than_.c_str(),
              held.empty() ? "" : " [", held.c_str(), held.empty() ? "" : "]",
              settings.QueueTable().c_str());
  std::printf("%s %lld statistics rows (older than %s) from %s\n", verb,
              static_cast<long long>(report.statistics_rows),
              statistics_older_than_.empty() ? "-, statistics retention off"
                                             : statistics_older_than_.c_str(),
              settings.StatisticsTable().c_str());
  std::printf("took %.3f s in %lld batches of up to %lld rows%s\n", report.took.count(),
              static_cast<long long>(report.batches), static_cast<long long>(policy.batch),
              report.yielded    ? "; stopped: another process took the prune lock"
              : report.complete ? ""
                                : "; stopped at the time budget, more to prune");
  return kExitOk;
}

void PruneCommand::Register(CLI::App& app) {
  auto* prune = app.add_subcommand(
      "prune", "delete old log rows of finished jobs, long-held jobs and old statistics, in small "
      "batches");
  prune->add_option("--log-older-than", log_older_than_,
                    "prune log rows older than this (e.g. 7d) whose job finished and that "
                    "were aggregated into statistics");
  prune->add_option("--held-older-than", held_older_than_,
                    "delete held (failed) jobs held longer than this (e.g. 14d), with their log "
                    "rows");
  prune->add_option("--statistics-older-than", statistics_older_than_,
                    "prune statistics rows older than this (e.g. 90d)");
  prune->add_flag("--reindex-bloated", reindex_bloated_,
                  "after pruning, rebuild (REINDEX INDEX CONCURRENTLY, one at a time, under "
                  "--lock-timeout) each queue/log index that is --bloat-ratio times its "
                  "estimated size and at least --reindex-min-size bytes");
  prune->add_option("--bloat-ratio", bloat_ratio_, "see --reindex-bloated")
      ->capture_default_str();
  prune->add_option("--reindex-min-size", reindex_min_size_, "bytes; see --reindex-bloated")
      ->capture_default_str();
  prune->add_option("-c,--config", config_path_,
                    "take the connection and the queue's names from this worker configuration "
                    "(YAML) instead of --dsn/--prefix/--schema");
  prune->add_flag("--dry-run", dry_run_, "count what would be deleted, delete nothing");
  prune->add_option("--batch", batch_, "rows per batch (one short transaction each)")
      ->capture_default_str();
  prune->add_option("--time-budget", time_budget_,
                    "stop starting batches after this long (default: run until done)");
  prune->add_option("--lock-timeout", lock_timeout_, "per batch")->capture_default_str();
  prune->add_option("--statement-timeout", statement_timeout_, "per batch")
      ->capture_default_str();
  prune->callback([this] { action_ = [this] { return Run(); }; });
}

}  // namespace pgq::cli
