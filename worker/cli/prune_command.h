#pragma once
// `pgq prune`: one retention run from the command line or a Kubernetes
// CronJob (see docs/operations.md#what-pgq-prunes).

#include <chrono>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/global_options.h"
#include "pgq/index_maintenance.h"
#include "pgq/retention.h"

namespace pgq::cli {

/// Exit code when another process held the prune lock and nothing was done.
inline constexpr int kExitPruneLocked = 3;

/// Registers `prune` and owns its options.
class PruneCommand {
 public:
  PruneCommand(const GlobalOptions& globals, Action& action)
      : globals_(globals), action_(action) {}
  PruneCommand(const PruneCommand&) = delete;
  PruneCommand& operator=(const PruneCommand&) = delete;

  void Register(CLI::App& app);

 private:
  int Run() const;
  int Prune(Executor& db, const DBSettings& settings, const RetentionPolicy& policy) const;
  int Reindex(Executor& db, const DBSettings& settings, const ReindexPolicy& policy) const;

  const GlobalOptions& globals_;
  Action& action_;
  std::string log_older_than_;
  std::string statistics_older_than_;
  std::string held_older_than_;
  std::string time_budget_;
  std::string lock_timeout_ = "1s";
  std::string statement_timeout_ = "60s";
  std::int64_t batch_ = kDefaultPruneBatch;
  bool dry_run_ = false;
  bool reindex_bloated_ = false;
  double bloat_ratio_ = ReindexPolicy{}.min_ratio;
  std::int64_t reindex_min_size_ = ReindexPolicy{}.min_bytes;
  std::string config_path_;
};

}  // namespace pgq::cli
