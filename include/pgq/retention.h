#pragma once
/// @file
/// Bounded growth of the log and statistics tables: pruning in small
/// batches, and the size of each queue table. PgQueuer itself never deletes
/// from either table; Python readers keep working because a log row is
/// pruned only after its job has left the queue table and after it was
/// rolled into statistics (see docs/operations.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq {

namespace detail {
struct RetentionSql;  // src/queries/retention_queries.cc
}

inline constexpr std::int64_t kDefaultPruneBatch = 5000;

/// What to prune and how gently. A zero age turns that table's pruning off.
struct RetentionPolicy {
  /// Log rows older than this are pruned when their job has left the queue
  /// table (it finished: successful, exception, canceled or deleted) and they
  /// were aggregated into statistics. Rows of queued, picked or held jobs
  /// are kept whatever their age.
  std::chrono::seconds log_older_than{0};
  /// Held jobs (status 'failed', kept by `on_failure: hold`) held longer than
  /// this (by `updated`, the time they were held) are deleted with every log
  /// row of theirs. A job with a log row not yet aggregated waits for the
  /// next run, so statistics stay exact. 0 keeps held jobs forever.
  std::chrono::seconds held_older_than{0};
  /// Statistics rows whose second is older than this are pruned.
  std::chrono::seconds statistics_older_than{0};
  /// Rows per batch; each batch is its own short transaction.
  std::int64_t batch = kDefaultPruneBatch;
  /// A run stops starting new batches after this long.
  std::chrono::milliseconds time_budget{10000};
  /// Per batch: how long to wait for a row or table lock, and for the whole
  /// statement. A batch that hits either ends the run with an error.
  std::chrono::milliseconds lock_timeout{200};
  std::chrono::milliseconds statement_timeout{5000};
  /// Count what would be pruned, delete nothing.
  bool dry_run = false;

  bool enabled() const noexcept {
    return log_older_than.count() > 0 || statistics_older_than.count() > 0 ||
           held_older_than.count() > 0;
  }
  bool operator==(const RetentionPolicy&) const = default;
};

/// What one run did.
struct PruneReport {
  /// False when another process held the prune lock at the first batch;
  /// nothing was done then.
  bool ran = false;
  /// True when a later batch found the lock taken (another process took
  /// over between two batches) and the run stopped there.
  bool yielded = false;
  /// True when every table was walked to the cutoff; false when the time
  /// budget ran out first.
  bool complete = false;
  std::int64_t log_rows = 0;         ///< deleted (or, in a dry run, deletable)
  std::int64_t statistics_rows = 0;  ///< deleted (or, in a dry run, deletable)
  std::int64_t held_jobs = 0;        ///< held jobs deleted (or deletable)
  std::int64_t held_log_rows = 0;    ///< log rows of those jobs
  /// held_jobs per entrypoint (only entrypoints with at least one).
  std::map<std::string, std::int64_t> held_by_entrypoint;
  std::int64_t batches = 0;
  std::chrono::duration<double> took{0};
};

/// Rows (the planner's estimate) and bytes on disk (with indexes and TOAST)
/// of one table.
struct TableSize {
  std::string table;  ///< "queue", "log", "statistics" or "schedules"
  std::int64_t estimated_rows = 0;
  std::int64_t bytes = 0;
};

/// Held ('failed') jobs of one entrypoint.
struct HeldAge {
  std::string entrypoint;
  std::int64_t jobs = 0;
  /// Since the oldest of them was held (its `updated`), in seconds.
  double oldest_seconds = 0;
};

/// Pruning and size queries. Needs only an Executor (a Driver, a SyncDriver
/// or a pool lease adapter); every batch is one round trip in its own
/// transaction, so it never holds a transaction open between batches.
/// Not thread-safe: one instance per thread.
class RetentionQueries {
 public:
  RetentionQueries(Executor& executor, DBSettings settings);

  /// One run: batches of the log, then of held jobs, then of statistics,
  /// under the fleet-wide prune lock (an advisory lock taken per batch, never
  /// waited for), until every table is pruned to its cutoff or the time
  /// budget is spent.
  /// Throws DatabaseError when a batch fails (e.g. a lock or statement
  /// timeout); rows deleted by earlier batches stay deleted.
  PruneReport Prune(const RetentionPolicy& policy);

  /// The four queue tables, in the order queue, log, statistics, schedules.
  std::vector<TableSize> TableSizes();
  /// Held jobs per entrypoint (entrypoints without any are absent).
  std::vector<HeldAge> HeldAges();
  /// Log rows not yet rolled into statistics, counted up to `cap`.
  std::int64_t UnaggregatedLogRows(std::int64_t cap = 10'000'000);

 private:
  Executor& executor_;
  std::shared_ptr<const detail::RetentionSql> sql_;
};

}  // namespace pgq
