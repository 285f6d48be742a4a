#pragma once
/// @file
/// Queue administration and statistics: lag, the planner's statistics and
/// ANALYZE, log aggregation, and clearing tables. Reached through
/// pgq::Queries.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgq/job.h"

namespace pgq {

namespace detail {
struct QueryContext;
}

struct StatisticsRow {
  std::int64_t count = 0;
  Clock::time_point created;
  std::string entrypoint;
  std::int32_t priority = 0;
  JobStatus status = JobStatus::kQueued;
};

class AdminQueries {
 public:
  /// Seconds since the oldest eligible queued job of each entrypoint became
  /// eligible (entrypoints without eligible work are absent).
  std::vector<std::pair<std::string, double>> QueueLag();

  /// The planner's view of the queue table: rows at the last ANALYZE
  /// (-1 = never), rows changed since, and whether this role may ANALYZE it.
  struct StatisticsState {
    std::int64_t rows_at_analyze = -1;
    std::int64_t changed_since_analyze = 0;
    bool may_analyze = false;
  };
  StatisticsState QueueStatistics();
  /// ANALYZEs the queue table if at least max(min_changes, rows at the last
  /// ANALYZE) rows changed since. Concurrent callers wait for each other and
  /// re-check, so the table is analyzed once. Throws DatabaseError when a
  /// lock is not granted within 2 s (e.g. during an anti-wraparound vacuum).
  void AnalyzeQueue(std::int64_t min_changes = 0);

  /// Rolls unaggregated log rows into statistics under PgQueuer's
  /// advisory lock. Returns false if another process held the lock.
  bool AggregateLogs();
  /// Aggregates (unlocked, as PgQueuer does) then reads statistics rows.
  std::vector<StatisticsRow> LogStatistics(std::optional<std::int64_t> limit,
                                           std::optional<std::chrono::seconds> last = std::nullopt);

  /// With entrypoints: delete those jobs and log `deleted`; without:
  /// TRUNCATE the queue.
  void ClearQueue(const std::vector<std::string>& entrypoints = {});
  void ClearStatistics(const std::vector<std::string>& entrypoints = {});
  void ClearLog(const std::vector<std::string>& entrypoints = {});

  /// The default_transaction_isolation that new connections of the current
  /// role to the current database would start with because of `ALTER
  /// DATABASE/ROLE ... SET` (the most specific setting wins: role and
  /// database, then role, then database, then all); nullopt when none is
  /// set. Connections opened before such a change do not show it, so a
  /// readiness check asks the catalog instead of the session.
  std::optional<std::string> DefaultIsolationSetting();

  /// Why the server this connection reached cannot take the queue's writes
  /// ("server 10.0.0.5:5432 is read-only (in recovery)"), or nullopt when it
  /// can. One round trip; readiness asks it on every probe.
  std::optional<std::string> ReadOnlyReason();

 protected:
  explicit AdminQueries(std::shared_ptr<const detail::QueryContext> context);

 private:
  std::shared_ptr<const detail::QueryContext> context_;
};

}  // namespace pgq
