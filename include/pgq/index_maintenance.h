#pragma once
/// @file
/// Index health of the queue and log tables: each B-tree index's size beside
/// the size it would have freshly built (a catalog estimate), and a lock-safe
/// remedy for the bloated ones, REINDEX INDEX CONCURRENTLY under a
/// lock_timeout, one index at a time (docs/operations.md, "Index bloat").

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq {

namespace detail {
struct IndexSql;  // src/queries/index_maintenance.cc
}

/// One index of the queue or log table.
struct IndexSize {
  std::string table;      ///< "queue" or "log"
  std::string index;      ///< its name
  std::string qualified;  ///< quoted, schema-qualified, for SQL
  std::int64_t bytes = 0;
  std::int64_t entries = 0;     ///< the catalog's estimate of the rows it holds
  std::int64_t table_rows = 0;  ///< the catalog's estimate of its table's rows
  /// The size a fresh build would have (index_health.sql says how).
  std::int64_t estimated_bytes = 0;
  /// bytes / estimated_bytes.
  double BloatRatio() const noexcept {
    return estimated_bytes > 0 ? static_cast<double>(bytes) / static_cast<double>(estimated_bytes)
                               : 0.0;
  }
};

/// Which indexes to rebuild and how gently.
struct ReindexPolicy {
  /// Rebuild an index whose size is at least this many times its estimate...
  double min_ratio = 4.0;
  /// ...and at least this large (small indexes are not worth a rebuild).
  std::int64_t min_bytes = 64LL << 20;
  /// Per index: how long each of REINDEX CONCURRENTLY's short locks may be
  /// waited for, and the whole rebuild.
  std::chrono::milliseconds lock_timeout{1000};
  std::chrono::milliseconds statement_timeout{std::chrono::hours(1)};
  /// Report what would be rebuilt, rebuild nothing.
  bool dry_run = false;
};

/// One index a reindex run chose.
struct ReindexResult {
  IndexSize before;
  std::int64_t bytes_after = 0;  ///< 0 in a dry run or when it failed
  std::chrono::duration<double> took{0};
  std::string error;  ///< empty when it worked (or in a dry run)
};

/// What one reindex run did.
struct ReindexReport {
  /// False when another process held the reindex lock; nothing was done.
  bool ran = false;
  std::vector<ReindexResult> indexes;
  /// Set when invalid copies left by an earlier failed rebuild could not be
  /// dropped (they are retried on the next run).
  std::string leftovers_error;
};

/// Index sizes and the reindex remedy. ReindexBloated needs an Executor that
/// is one connection in autocommit (a ConnectionDriver, not a pool): it sets
/// session timeouts and a session advisory lock, and REINDEX CONCURRENTLY
/// cannot run inside a transaction. Not thread-safe: one instance per thread.
class IndexMaintenance {
 public:
  IndexMaintenance(Executor& executor, DBSettings settings);

  /// Every B-tree index of the queue and log tables, queue first.
  std::vector<IndexSize> Indexes();

  /// Rebuilds, one at a time, each index at least `min_ratio` times its
  /// estimate and `min_bytes` large, under the fleet-wide reindex lock (a
  /// session advisory lock, never waited for). An index whose rebuild fails
  /// (e.g. its lock_timeout) is reported with the error, its invalid copy is
  /// dropped (or, if that fails too, by the next run, which drops such
  /// leftovers first), and the run goes on with the next. Throws DatabaseError
  /// only when the catalog queries or the lock fail.
  ReindexReport ReindexBloated(const ReindexPolicy& policy);

 private:
  // Drops invalid copies a failed REINDEX CONCURRENTLY left; the error, or "".
  std::string DropLeftovers();

  Executor& executor_;
  std::shared_ptr<const detail::IndexSql> sql_;
};

}  // namespace pgq
