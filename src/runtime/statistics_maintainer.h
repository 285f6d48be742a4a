#pragma once
// Keeps the queue table's planner statistics fresh and rolls this worker's
// log rows into statistics. Used by one thread at a time (Run() before the
// threads start, then the housekeeping thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>

#include <spdlog/spdlog.h>

#include "runtime/runtime_store.h"

namespace pgq::detail {

class StatisticsMaintainer {
 public:
  StatisticsMaintainer(RuntimeStore& store, std::shared_ptr<spdlog::logger> log)
      : store_(store), log_(std::move(log)) {}

  /// 0 turns the check (or the aggregation) off.
  void Configure(std::chrono::milliseconds check_interval,
                 std::chrono::milliseconds aggregation_interval);

  /// The claim's plan depends on the queue table's statistics. Without them
  /// (a fresh table, or one analyzed while nearly empty) the planner expects
  /// a handful of rows and sorts the whole backlog on every claim: 30 ms per
  /// claim at 50k jobs instead of 0.1 ms. Autovacuum catches up only after
  /// its naptime, too late for a bulk enqueue, so the worker refreshes them.
  void RefreshIfStale();

  /// Starts the schedule of Tick() from `now`.
  void Start(std::chrono::steady_clock::time_point now);
  /// Runs the statistics check and the log aggregation when due.
  /// `logged_since_last`: completions written since the last call; the
  /// aggregation runs only when this worker logged something.
  void Tick(std::chrono::steady_clock::time_point now,
            const std::function<std::int64_t()>& take_logged_count);

  static constexpr std::int64_t kAnalyzeMinChanges = 1000;

 private:
  std::chrono::milliseconds NextAggregationDelay();

  RuntimeStore& store_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds check_interval_{5000};
  std::chrono::milliseconds aggregation_interval_{30000};
  bool may_analyze_ = true;
  bool failing_ = false;
  std::mt19937 rng_{std::random_device{}()};
  std::chrono::steady_clock::time_point next_check_;
  std::chrono::steady_clock::time_point next_aggregate_;
};

}  // namespace pgq::detail
