#include "runtime/statistics_maintainer.h"

#include <algorithm>
#include <utility>

namespace pgq::detail {

using SteadyClock = std::chrono::steady_clock;

void StatisticsMaintainer::Configure(std::chrono::milliseconds check_interval,
                                     std::chrono::milliseconds aggregation_interval) {
  check_interval_ = check_interval;
  aggregation_interval_ = aggregation_interval;
}

void StatisticsMaintainer::RefreshIfStale() {
  if (!may_analyze_ || check_interval_.count() <= 0) return;
  try {
    const auto state = store_.QueueStatistics();
    if (state.changed_since_analyze < std::max(kAnalyzeMinChanges, state.rows_at_analyze)) {
      failing_ = false;
      return;
    }
    if (!state.may_analyze) {
      may_analyze_ = false;
      log_->info(
          "the queue table's planner statistics are stale ({} rows changed since the last "
          "ANALYZE) and this role may not ANALYZE it; autovacuum will, later",
          state.changed_since_analyze);
      return;
    }
    const auto t0 = SteadyClock::now();
    store_.AnalyzeQueue(kAnalyzeMinChanges);
    log_->debug("analyzed the queue table ({} rows changed since the last ANALYZE) in {} ms",
                state.changed_since_analyze,
                std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0)
                    .count());
    failing_ = false;
  } catch (const std::exception& e) {
    // Once per streak: a long vacuum would otherwise log every interval.
    if (!std::exchange(failing_, true)) {
      log_->warn("could not refresh the queue table's statistics (will retry): {}", e.what());
    }
  }
}

// Jittered so that a fleet started together does not aggregate in step.
std::chrono::milliseconds StatisticsMaintainer::NextAggregationDelay() {
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::duration_cast<std::chrono::milliseconds>(aggregation_interval_ *
                                                               jitter(rng_));
}

void StatisticsMaintainer::Start(SteadyClock::time_point now) {
  next_aggregate_ = now + NextAggregationDelay();
  next_check_ = now + check_interval_;
}

void StatisticsMaintainer::Tick(SteadyClock::time_point now,
                                const std::function<std::int64_t()>& take_logged_count) {
  if (now >= next_check_) {
    next_check_ = now + check_interval_;
    RefreshIfStale();
  }
  if (aggregation_interval_.count() > 0 && now >= next_aggregate_) {
    next_aggregate_ = now + NextAggregationDelay();
    // Only when this worker has logged something since the last round.
    if (take_logged_count() > 0) {
      try {
        store_.AggregateLogs();
      } catch (const std::exception& e) {
        log_->warn("log aggregation failed: {}", e.what());
      }
    }
  }
}

}  // namespace pgq::detail
