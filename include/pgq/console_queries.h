#pragma once
/// @file
/// What a job console shows, read from the tables the queue already keeps:
/// headline numbers, backlog per entrypoint, a filtered job list in keyset
/// pages, one job with its log history, and held failures by entrypoint.
/// Every statement is bounded (a LIMIT, or one aggregate row); the job list
/// and the job's log are served by indexes (src/queries/sql/console_*.sql).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/job.h"
#include "pgq/settings.h"

namespace pgq {

namespace detail {
struct ConsoleSql;  // src/queries/console_queries.cc
}

/// Largest page ListJobs returns, whatever the filter asks for.
inline constexpr std::int64_t kMaxConsolePage = 500;
/// Largest payload preview Job() reads.
inline constexpr std::int64_t kMaxPayloadPreview = 1 << 20;

/// Headline numbers of the queue table.
struct ConsoleOverview {
  std::int64_t queued = 0;  ///< eligible now or later
  std::int64_t picked = 0;
  std::int64_t failed = 0;  ///< held
  /// Seconds the longest-waiting eligible queued job has waited; nullopt
  /// when no queued job is eligible.
  std::optional<double> oldest_wait_seconds;
};

/// One entrypoint's jobs in the queue table.
struct EntrypointBacklog {
  std::string entrypoint;
  std::int64_t queued = 0;
  std::int64_t picked = 0;
  std::int64_t failed = 0;
  std::optional<double> oldest_wait_seconds;
};

/// What the job list shows; unset fields do not filter.
struct JobFilter {
  std::optional<JobStatus> status;
  std::optional<std::string> entrypoint;
  std::optional<JobId> id;
  /// Keyset cursor: only ids below this one (JobPage::next_before of the
  /// previous page); nullopt for the first page.
  std::optional<JobId> before;
  /// Rows per page, clamped to [1, kMaxConsolePage].
  std::int64_t limit = 50;
};

/// One row of the job list (the payload's size, not its bytes).
struct JobSummary {
  JobId id = 0;
  std::int32_t priority = 0;
  JobStatus status = JobStatus::kQueued;
  std::string entrypoint;
  std::optional<std::string> dedupe_key;
  std::int32_t attempts = 0;
  std::string queue_manager_id;  ///< empty when not claimed
  Clock::time_point created;
  Clock::time_point updated;
  Clock::time_point execute_after;
  std::optional<std::int64_t> payload_bytes;  ///< nullopt: NULL payload
};

/// One page of the job list, newest first.
struct JobPage {
  std::vector<JobSummary> jobs;
  /// The cursor of the next page (JobFilter::before); nullopt on the last.
  std::optional<JobId> next_before;
};

/// One row of a job's log history.
struct JobLogEntry {
  std::int64_t id = 0;
  Clock::time_point created;
  JobStatus status = JobStatus::kQueued;
  std::string entrypoint;
  std::int32_t priority = 0;
  std::optional<std::string> traceback;  ///< JSON text as stored
};

/// A job for the detail screen. `job` is nullopt when the job is no longer
/// (or never was) in the queue table: a finished job leaves it, and only its
/// log history remains.
struct JobDetail {
  /// The queue row; its payload holds at most the requested preview bytes.
  std::optional<Job> job;
  /// The payload's full size (nullopt: no row, or a NULL payload).
  std::optional<std::int64_t> payload_bytes;
  /// Newest first, at most the requested number of rows.
  std::vector<JobLogEntry> log;
  /// The newest traceback in `log`, if any.
  std::optional<std::string> traceback;
};

/// Held failures of one entrypoint.
struct FailureGroup {
  std::string entrypoint;
  std::int64_t jobs = 0;
  Clock::time_point first_held;  ///< `updated` of the oldest held job
  Clock::time_point last_held;
  JobId newest_id = 0;
  /// From the newest held job's latest traceback, when it has one.
  std::optional<std::string> exception_type;
  std::optional<std::string> exception_message;
};

/// The console's queries. Needs only an Executor: each call is one
/// statement in autocommit, so a console never holds a transaction open
/// and takes no lock a worker waits for (Requeue updates only held rows).
/// Holds no state of its own: safe to share between threads when the
/// Executor is (a ConnectionDriver serialises its calls).
class ConsoleQueries {
 public:
  ConsoleQueries(Executor& executor, DBSettings settings);

  ConsoleOverview Overview();
  /// At most `limit` entrypoints, the ones with the most jobs first.
  std::vector<EntrypointBacklog> Backlog(std::int64_t limit = 100);
  /// One page of the queue table, newest first; see JobFilter.
  JobPage ListJobs(const JobFilter& filter);
  /// The job with `payload_preview` bytes of its payload (clamped to
  /// [0, kMaxPayloadPreview]) and its newest `log_rows` log rows.
  JobDetail Detail(JobId id, std::int64_t payload_preview = 4096, std::int64_t log_rows = 100);
  /// Held jobs by entrypoint, the largest group first, at most `limit`.
  std::vector<FailureGroup> Failures(std::int64_t limit = 100);
  /// Puts held jobs back in the queue (attempts reset) and logs `queued`
  /// for each; ids that are not held are ignored. Returns how many moved.
  std::int64_t Requeue(const std::vector<JobId>& ids);

 private:
  Executor& executor_;
  std::shared_ptr<const detail::ConsoleSql> sql_;
};

}  // namespace pgq
