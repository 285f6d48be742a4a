#pragma once
/// @file
/// The queue's SQL operations, each one autocommit statement whose
/// semantics match PgQueuer 1.3 (see docs/compatibility.md).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq {

namespace detail {
struct SqlText;
}

using JobId = std::int64_t;
using Clock = std::chrono::system_clock;

/// Status labels of the shared enum (US spelling "canceled").
enum class JobStatus { kQueued, kPicked, kSuccessful, kException, kCanceled, kDeleted, kFailed };
std::string_view ToString(JobStatus status) noexcept;
JobStatus ParseJobStatus(std::string_view text);

/// One row of the queue table.
struct Job {
  JobId id = 0;
  std::int32_t priority = 0;
  std::string queue_manager_id;  ///< empty when not claimed
  Clock::time_point created;
  Clock::time_point updated;
  Clock::time_point heartbeat;
  Clock::time_point execute_after;
  JobStatus status = JobStatus::kQueued;
  std::string entrypoint;
  std::optional<std::string> dedupe_key;
  std::optional<std::string> payload;  ///< raw bytes; nullopt is SQL NULL
  std::string headers = "null";        ///< JSON object or "null"
  std::int32_t attempts = 0;
  /// Set by Dequeue when this claim took the job over from a stale worker.
  bool rescued = false;
};

/// One job to enqueue.
struct NewJob {
  std::string entrypoint;
  std::optional<std::string> payload;
  std::int32_t priority = 0;
  /// Eligible this long after the server's NOW() (may be zero or negative).
  std::chrono::microseconds execute_after{0};
  std::optional<std::string> dedupe_key;
  /// JSON object text, or nullopt for JSON null.
  std::optional<std::string> headers;
};

enum class OnConflict { kRaise, kSkip };

/// One entrypoint a worker consumes, with its fleet-wide limit.
struct EntrypointLimit {
  std::string name;
  std::int64_t concurrency_limit = 0;  ///< 0 = unlimited
};

/// A completion to record: delete (or hold as failed) plus a log row.
struct Completion {
  JobId id = 0;
  JobStatus status = JobStatus::kSuccessful;
  std::optional<std::string> traceback;  ///< JSON (TracebackRecord shape)
};

struct QueueCount {
  std::string entrypoint;
  std::int32_t priority = 0;
  JobStatus status = JobStatus::kQueued;
  std::int64_t count = 0;
};

struct StatisticsRow {
  std::int64_t count = 0;
  Clock::time_point created;
  std::string entrypoint;
  std::int32_t priority = 0;
  JobStatus status = JobStatus::kQueued;
};

struct ScheduleRow {
  std::int64_t id = 0;
  std::string expression;
  std::string entrypoint;
  Clock::time_point heartbeat;
  Clock::time_point created;
  Clock::time_point updated;
  Clock::time_point next_run;
  std::optional<Clock::time_point> last_run;
  JobStatus status = JobStatus::kQueued;
};

/// The claim and completion statements as the worker prepares them (with
/// $n parameters), by name: "claim" (no limits, no cap; the worker writes
/// the batch size, the entrypoint array and the heartbeat timeout in as
/// literals for `{batch}`, `{entrypoints}` and `{heartbeat_timeout}`),
/// "claim_gated" and "complete". For review (`pgq sql statements`) and for
/// bench/pgbench, which runs a copy of them.
std::vector<std::pair<std::string, std::string>> WorkerStatements(const DBSettings& settings);

/// Producer operations. Needs only an Executor, so it works on the
/// enqueue-only SyncDriver, a Driver, a pool lease, or a caller's
/// transaction (see pgq/pqxx.h).
class ProducerQueries {
 public:
  ProducerQueries(Executor& executor, DBSettings settings);

  /// Inserts all jobs in one statement and writes a `queued` log row for
  /// each. Returns ids in input order; with kSkip, nullopt where a live job
  /// already holds the dedupe key. With kRaise a conflict rejects the whole
  /// batch with DuplicateJobError listing the keys.
  std::vector<std::optional<JobId>> Enqueue(const std::vector<NewJob>& jobs,
                                            OnConflict on_conflict = OnConflict::kRaise);
  JobId Enqueue(const NewJob& job);

  /// Rows per (entrypoint, priority, status).
  std::vector<QueueCount> QueueSize();

  const DBSettings& settings() const noexcept { return settings_; }

 protected:
  Executor& executor_;
  DBSettings settings_;
  /// Statement texts, built once per settings.
  std::shared_ptr<const detail::SqlText> sql_;
};

/// Consumer and admin operations. Requires a full Driver.
class Queries : public ProducerQueries {
 public:
  Queries(Driver& driver, DBSettings settings);

  /// Claims up to `batch_size` jobs for `queue_manager_id` in one statement
  /// (spec 3.2): fleet-wide per-entrypoint limits counted on
  /// queue_manager_id, a per-worker cap, stale takeover after
  /// `heartbeat_timeout` that ignores the limits, priority DESC then id ASC.
  std::vector<Job> Dequeue(std::int64_t batch_size,
                           const std::vector<EntrypointLimit>& entrypoints,
                           std::string_view queue_manager_id,
                           std::optional<std::int64_t> worker_cap,
                           std::chrono::microseconds heartbeat_timeout);

  /// Deletes (or, for kFailed, holds) the jobs and logs each that still
  /// existed. Completions for rows already gone are silent no-ops.
  void Complete(const std::vector<Completion>& completions);

  /// Puts a job back to `queued` after `delay`, attempts + 1, and logs it.
  /// Returns false if the row no longer exists.
  bool Retry(JobId id, std::chrono::microseconds delay,
             std::optional<std::string> traceback);

  /// Requeues held (`failed`) jobs; other ids are ignored. Returns the count.
  std::int64_t Requeue(const std::vector<JobId>& ids);
  std::vector<Job> ListFailed(std::int64_t limit, bool newest_first = true);

  /// Deletes the jobs, logs `canceled`, and broadcasts a cancellation_event
  /// so workers running them flag their cancel scope.
  void Cancel(const std::vector<JobId>& ids);

  void Heartbeat(const std::vector<JobId>& ids);

  /// Hands claimed jobs that never started back to the queue (status
  /// `queued`, owner cleared, a `queued` log row). Only rows still owned by
  /// `queue_manager_id` are touched. Returns the count.
  std::int64_t Release(const std::vector<JobId>& ids, std::string_view queue_manager_id);

  /// What is queued for these entrypoints, in one round trip.
  struct QueueProbe {
    bool eligible = false;  ///< a queued job with execute_after <= NOW()
    bool queued = false;    ///< any queued job, deferred or not
    /// Time until the next deferred queued job becomes eligible, if any.
    std::optional<std::chrono::microseconds> next_eta;
  };
  QueueProbe ProbeQueue(const std::vector<std::string>& entrypoints);
  /// Whether any queued job of these entrypoints exists (eligible_only: with
  /// execute_after <= NOW()).
  bool HasQueuedWork(const std::vector<std::string>& entrypoints,
                     bool eligible_only = false);
  /// Time until the next deferred queued job becomes eligible, if any.
  std::optional<std::chrono::microseconds> NextDeferredEta(
      const std::vector<std::string>& entrypoints);

  /// Latest log status of each id (ids without log rows are absent).
  std::vector<std::pair<JobId, JobStatus>> JobStatuses(const std::vector<JobId>& ids);

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
  std::vector<StatisticsRow> LogStatistics(
      std::optional<std::int64_t> limit,
      std::optional<std::chrono::seconds> last = std::nullopt);

  /// With entrypoints: delete those jobs and log `deleted`; without:
  /// TRUNCATE the queue.
  void ClearQueue(const std::vector<std::string>& entrypoints = {});
  void ClearStatistics(const std::vector<std::string>& entrypoints = {});
  void ClearLog(const std::vector<std::string>& entrypoints = {});

  // Schedules table.
  void InsertSchedules(const std::vector<std::pair<std::string, std::string>>& name_expression,
                       const std::vector<std::chrono::microseconds>& delays);
  /// Claims due (or stale > 30 s) schedules; next_run = NOW() + delay.
  std::vector<ScheduleRow> FetchSchedules(
      const std::vector<std::pair<std::string, std::string>>& name_expression,
      const std::vector<std::chrono::microseconds>& delays);
  void SetSchedulesQueued(const std::vector<std::int64_t>& ids);
  void ScheduleHeartbeat(const std::vector<std::int64_t>& ids);
  std::vector<ScheduleRow> PeekSchedules();
  void DeleteSchedules(const std::vector<std::int64_t>& ids,
                       const std::vector<std::string>& names);
  void ClearSchedules();
  void DeleteSchedulesNamed(const std::string& name);

  Driver& driver() noexcept { return driver_; }

 private:
  Driver& driver_;
};

/// Compact JSON for a cancellation_event on `channel` (as PgQueuer sends it).
std::string CancellationEventJson(std::string_view channel, const std::vector<JobId>& ids);

}  // namespace pgq
