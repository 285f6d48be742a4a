#pragma once
/// @file
/// The consumer runtime: QueueManager claims jobs, runs handlers on a bounded
/// thread pool, and records outcomes. Delivery is at-least-once: a handler may
/// run twice (after a crash or a lost heartbeat), never zero times.

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "pgq/driver.h"
#include "pgq/observer.h"
#include "pgq/queries.h"
#include "pgq/retention.h"
#include "pgq/settings.h"

namespace pgq {

namespace detail {
struct QueueManagerAccess;
}

/// Shared, mutable resources handed to every job and schedule (database
/// pools, HTTP clients, caches ...). Thread-safe.
class Resources {
 public:
  void Set(const std::string& key, std::any value) {
    std::scoped_lock lock(mu_);
    values_[key] = std::move(value);
  }
  /// The value stored under `key` as T, or nullopt if absent or of another type.
  template <typename T>
  std::optional<T> Get(const std::string& key) const {
    std::scoped_lock lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    if (const T* value = std::any_cast<T>(&it->second)) return *value;
    return std::nullopt;
  }
  bool Contains(const std::string& key) const {
    std::scoped_lock lock(mu_);
    return values_.contains(key);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::any> values_;
};

/// What a handler gets: the job, a cooperative cancellation token (set when
/// the job is cancelled or the worker's grace period runs out) and the
/// shared resources.
struct JobContext {
  const Job& job;
  std::stop_token cancellation;
  Resources& resources;
  bool Cancelled() const noexcept { return cancellation.stop_requested(); }
};

/// Throw from a handler to put the job back in the queue (same id, attempts
/// + 1) after `delay`.
class RetryRequested : public std::runtime_error {
 public:
  explicit RetryRequested(std::chrono::microseconds delay = {}, std::string reason = {})
      : std::runtime_error(reason.empty() ? "retry requested" : reason),
        delay_(delay),
        reason_(std::move(reason)) {}
  std::chrono::microseconds delay() const noexcept { return delay_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::chrono::microseconds delay_;
  std::string reason_;
};

/// Throw from a handler to fail the job without retries (e.g. HTTP 4xx).
class PermanentFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs a job; throwing marks it failed (or retried, per policy).
using Handler = std::function<void(JobContext&)>;

/// Exponential backoff: delay = min(initial * multiplier^attempts, max_delay)
/// while attempts < max_attempts; then the failure is final.
struct RetryPolicy {
  std::int32_t max_attempts = 5;
  std::chrono::microseconds initial_delay = std::chrono::seconds(1);
  std::chrono::microseconds max_delay = std::chrono::minutes(5);
  double multiplier = 2.0;
  /// The delay before retry number `attempts + 1`, or nullopt when exhausted.
  std::optional<std::chrono::microseconds> DelayAfter(std::int32_t attempts) const;
  bool operator==(const RetryPolicy&) const = default;
};

enum class OnFailure { kDelete, kHold };

struct EntrypointOptions {
  /// Fleet-wide cap on this entrypoint's in-flight jobs; 0 = unlimited.
  std::int64_t concurrency_limit = 0;
  /// Backoff retries for failures; nullopt = fail at once.
  std::optional<RetryPolicy> retry;
  /// What a final failure does: delete (`exception`) or hold (`failed`).
  OnFailure on_failure = OnFailure::kDelete;
};

enum class RunMode { kContinuous, kDrain };

struct RunOptions {
  std::int64_t batch_size = 10;
  std::chrono::milliseconds dequeue_timeout{30000};
  std::chrono::milliseconds heartbeat_timeout{30000};
  /// Per-worker cap on claimed jobs (counted in the database); nullopt =
  /// unlimited. Must be >= 2 * batch_size.
  std::optional<std::int64_t> max_concurrent_tasks;
  RunMode mode = RunMode::kContinuous;
  /// Handler threads; 0 = max_concurrent_tasks, else 2 * batch_size.
  std::size_t handler_threads = 0;
  /// How long in-flight jobs may run after Stop() before their cancellation
  /// token is set; the run then waits for them to return.
  std::chrono::milliseconds shutdown_grace{30000};
  /// How often this worker rolls the log into statistics (0 = never).
  std::chrono::milliseconds log_aggregation_interval{30000};
  /// Listener health check period (self-addressed health_check_event). A
  /// reconnect of the LISTEN connection starts a check at once.
  std::chrono::milliseconds health_check_interval{10000};
  /// How long a health check waits for its event before the listener counts
  /// as down (and the claim loop looks for work it may have missed).
  std::chrono::milliseconds health_check_timeout{5000};
  /// How often this worker checks the queue table's planner statistics
  /// (0 = never). When the table changed by at least max(1000, its row count
  /// at the last ANALYZE) rows since then, the worker runs ANALYZE on it
  /// (once per fleet); see docs/runtime.md.
  std::chrono::milliseconds statistics_check_interval{5000};
  /// What this worker prunes from the log and statistics tables (nothing by
  /// default). Needs log aggregation somewhere in the fleet: only aggregated
  /// log rows are pruned. See docs/operations.md.
  RetentionPolicy retention;
  /// How often this worker tries a prune run when `retention` prunes
  /// something (0 = never); the fleet prunes one worker at a time.
  std::chrono::milliseconds prune_interval{60000};
};

/// Worker health for readiness probes and metrics.
struct RuntimeHealth {
  bool running = false;
  bool draining = false;
  bool listener_up = false;
  /// Seconds since the last notification of any kind (or since start).
  double last_event_age_seconds = 0;
  std::int64_t listener_reconnects = 0;
  std::int64_t in_flight = 0;
  /// Set when the last health-check round trip failed.
  std::string listener_problem;
  /// Last loop iteration (for liveness).
  std::chrono::steady_clock::time_point last_loop;
};

/// Consumes the queue. One instance per process (per fleet member).
/// Entrypoint() before Run(); Run() blocks; Stop() and Health() may be called
/// from any thread.
class QueueManager {
 public:
  QueueManager(Driver& driver, DBSettings settings, std::string channel = {},
               std::shared_ptr<Resources> resources = nullptr,
               std::shared_ptr<Observer> observer = nullptr);
  ~QueueManager();
  QueueManager(const QueueManager&) = delete;
  QueueManager& operator=(const QueueManager&) = delete;

  /// Registers a handler. Throws LogicError on a duplicate name or bad options.
  void Entrypoint(const std::string& name, Handler handler, EntrypointOptions options = {});

  /// Runs until Stop() (or, in drain mode, until nothing is queued or in
  /// flight). Throws on a schema that is not installed or on misuse.
  void Run(const RunOptions& options = {});
  /// Asks Run() to stop claiming, finish in-flight jobs within the grace
  /// period, put claimed-but-unstarted jobs back and return. Thread-safe.
  void Stop() noexcept;

  RuntimeHealth Health() const;
  /// This instance's queue_manager_id (a random UUID v4, new per instance).
  const std::string& id() const noexcept;
  const std::string& channel() const noexcept;
  Queries& queries() noexcept;
  Resources& resources() noexcept;

  struct Impl;

 private:
  // Internal construction over another store (src/runtime/queue_manager_access.h).
  friend struct detail::QueueManagerAccess;
  explicit QueueManager(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace pgq
