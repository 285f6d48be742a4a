#pragma once
/// @file
/// Events the library reports about pools, drivers and jobs. The worker
/// turns them into Prometheus metrics; the library itself depends on no
/// metrics library. Every method has an empty default, may be called from
/// any thread, and must not throw or block.

#include <chrono>
#include <cstddef>
#include <string_view>

namespace pgq {

struct PruneReport;  // pgq/retention.h

/// Why a pooled connection was closed.
enum class CloseReason { kMaxLifetime, kBroken, kStateViolation, kShutdown, kIdleCheckFailed };
std::string_view ToString(CloseReason reason) noexcept;

class Observer {
 public:
  virtual ~Observer() = default;

  // Pool.
  virtual void OnAcquire(std::chrono::nanoseconds /*waited*/) {}
  virtual void OnAcquireTimeout() {}
  virtual void OnRelease(std::chrono::nanoseconds /*held*/) {}
  virtual void OnConnectionCreated() {}
  virtual void OnConnectionClosed(CloseReason /*reason*/) {}

  // Driver health.
  virtual void OnConnectError(std::string_view /*kind*/) {}
  virtual void OnReconnect() {}
  virtual void OnStateViolation(bool /*in_transaction*/, bool /*isolation*/) {}
  virtual void OnListenerUp(bool /*up*/) {}
  virtual void OnNotification(std::string_view /*type*/) {}

  // Jobs.
  virtual void OnJobsClaimed(std::string_view /*entrypoint*/, std::size_t /*count*/) {}
  /// A job taken over from a worker whose heartbeat stopped.
  virtual void OnJobRescued(std::string_view /*entrypoint*/) {}
  virtual void OnJobStarted(std::string_view /*entrypoint*/,
                            std::chrono::duration<double> /*waited*/) {}
  virtual void OnJobFinished(std::string_view /*entrypoint*/,
                             std::string_view /*outcome*/,
                             std::chrono::duration<double> /*took*/) {}
  virtual void OnDequeue(std::chrono::duration<double> /*took*/) {}

  // Schedules.
  /// One run of a schedule's handler ended; `outcome` is "successful" or
  /// "exception".
  virtual void OnScheduleRun(std::string_view /*schedule*/, std::string_view /*outcome*/,
                             std::chrono::duration<double> /*took*/) {}
  /// When the database says the schedule is due next (its `next_run`): read
  /// at start, after every claim and every few seconds, so a worker that did
  /// not run it still reports the time another worker set.
  virtual void OnScheduleNextRun(std::string_view /*schedule*/,
                                 std::chrono::system_clock::time_point /*next_run*/) {}

  // Producer (BatchingProducer).
  /// One enqueue statement of a flush ran: `jobs` sent, `took` from taking
  /// a connection to the commit (or the error), `ok` false when it failed.
  virtual void OnProducerFlush(std::size_t /*jobs*/, std::chrono::duration<double> /*took*/,
                               bool /*ok*/) {}
  /// Jobs waiting for a flush, after each change.
  virtual void OnProducerPending(std::size_t /*pending*/) {}

  /// A job's failure/retry/rescue log line was dropped by the rate limit.
  virtual void OnJobLogSuppressed() {}
  // Retention (only when RunOptions::retention prunes something).
  /// A prune run ended; `report.ran` is false when another process held
  /// the prune lock.
  virtual void OnPruned(const PruneReport& /*report*/) {}
  /// A prune run failed (e.g. a batch hit its lock or statement timeout).
  virtual void OnPruneFailed() {}
};

}  // namespace pgq
