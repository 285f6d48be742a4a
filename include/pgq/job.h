#pragma once
/// @file
/// The rows and values the queue's operations take and return.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgq {

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

}  // namespace pgq
