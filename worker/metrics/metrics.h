#pragma once
// Prometheus metrics for the worker: an Observer that the library reports
// pool, driver and job events to, plus gauges the worker samples. Names
// follow HikariCP's pool metrics; see docs/metrics.md.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgq/observer.h"
#include "pgq/pool.h"
#include "pgq/queries.h"
#include "pgq/retention.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace pgq::worker {

/// Thread-safe. Families are registered once in the constructor; labelled
/// children are created on first use and kept (labels are low-cardinality:
/// entrypoints, statuses, reasons — never job ids).
class Metrics final : public Observer {
 public:
  explicit Metrics(const std::string& version);
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// Creates every per-entrypoint and per-schedule series at 0 (jobs by each
  /// outcome, claims, histograms, in-flight, lag, depth; schedule runs by
  /// outcome, durations, times), so an idle fleet's panels show zeros rather
  /// than no data. Call once at start with the configured names.
  void Prepare(const std::vector<std::string>& entrypoints,
               const std::vector<std::string>& schedules);

  /// The exposition text for /metrics.
  std::string Serialize() const;

  // Observer.
  void OnAcquire(std::chrono::nanoseconds waited) override;
  void OnAcquireTimeout() override;
  void OnRelease(std::chrono::nanoseconds held) override;
  void OnConnectionCreated() override;
  void OnConnectionClosed(CloseReason reason) override;
  void OnConnectError(std::string_view kind) override;
  void OnReconnect() override;
  void OnStateViolation(bool in_transaction, bool isolation) override;
  void OnListenerUp(bool up) override;
  void OnJobLogSuppressed() override;
  void OnNotification(std::string_view type) override;
  void OnJobsClaimed(std::string_view entrypoint, std::size_t count) override;
  void OnJobRescued(std::string_view entrypoint) override;
  void OnJobStarted(std::string_view entrypoint, std::chrono::duration<double> waited) override;
  void OnJobFinished(std::string_view entrypoint, std::string_view outcome,
                     std::chrono::duration<double> took) override;
  void OnDequeue(std::chrono::duration<double> took) override;
  void OnScheduleRun(std::string_view schedule, std::string_view outcome,
                     std::chrono::duration<double> took) override;
  void OnScheduleNextRun(std::string_view schedule,
                         std::chrono::system_clock::time_point next_run) override;
  void OnPruned(const PruneReport& report) override;
  void OnPruneFailed() override;

  // Sampled by the worker.
  void SetPool(const PoolStats& stats);
  void SetDriverHealth(bool up, bool autocommit_ok, bool isolation_ok);
  void SetListenerAge(double seconds);
  void SetQueueDepth(const std::vector<QueueCount>& counts);
  void SetQueueLag(const std::map<std::string, double>& lag_seconds);
  void SetTableSizes(const std::vector<TableSize>& sizes, std::int64_t unaggregated_log_rows);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgq::worker
