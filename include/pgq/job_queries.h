#pragma once
/// @file
/// The consumer's job operations: claim, complete, retry, requeue, cancel,
/// heartbeat, release, probe and statuses. Reached through pgq::Queries.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgq/job.h"

namespace pgq {

namespace detail {
struct QueryContext;
}

/// What one claim asks for (see JobQueries::Dequeue).
struct ClaimRequest {
  std::int64_t batch_size = 1;
  std::vector<EntrypointLimit> entrypoints;
  std::string queue_manager_id;                    ///< the claiming worker's UUID
  std::optional<std::int64_t> worker_cap;          ///< jobs this worker may hold at once
  std::chrono::microseconds heartbeat_timeout{0};  ///< after which a picked job is stale
};

class JobQueries {
 public:
  /// Claims up to `batch_size` jobs for `queue_manager_id` in one statement
  /// (spec 3.2): fleet-wide per-entrypoint limits counted on
  /// queue_manager_id, a per-worker cap, stale takeover after
  /// `heartbeat_timeout` that ignores the limits, priority DESC then id ASC.
  std::vector<Job> Dequeue(const ClaimRequest& request);

  /// Deletes (or, for kFailed, holds) the jobs and logs each that still
  /// existed. Completions for rows already gone are silent no-ops.
  void Complete(const std::vector<Completion>& completions);

  /// Puts a job back to `queued` after `delay`, attempts + 1, and logs it.
  /// Returns false if the row no longer exists.
  bool Retry(JobId id, std::chrono::microseconds delay, std::optional<std::string> traceback);

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

  /// Latest log status of each id (ids without log rows are absent).
  std::vector<std::pair<JobId, JobStatus>> JobStatuses(const std::vector<JobId>& ids);

 protected:
  explicit JobQueries(std::shared_ptr<const detail::QueryContext> context);

 private:
  std::shared_ptr<const detail::QueryContext> context_;
};

/// Compact JSON for a cancellation_event on `channel` (as PgQueuer sends it).
std::string CancellationEventJson(std::string_view channel, const std::vector<JobId>& ids);

}  // namespace pgq
