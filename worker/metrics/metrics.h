#pragma once
// Prometheus metrics for the worker: an Observer that the library reports
// pool, driver and job events to, plus gauges the worker samples. Names
// follow HikariCP's pool metrics; see docs/metrics.md.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgq/index_maintenance.h"
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

/// The `endpoint` label of the connection metrics: "pool" is `database:`
/// (the pool, and the LISTEN connection unless it has its own endpoint),
/// "listener" is `database.listener:`.
inline constexpr std::string_view kPoolEndpoint = "pool";
inline constexpr std::string_view kListenerEndpoint = "listener";

/// Thread-safe. Families are registered once in the constructor; labelled
/// children are created on first use and kept (labels are low-cardinality:
/// entrypoints, statuses, reasons — never job ids).
class Metrics final : public Observer {
 public:
  /// `listener_endpoint`: the LISTEN connection goes to `database.listener`,
  /// so its series carry endpoint="listener" (created at 0 here).
  explicit Metrics(const std::string& version, bool listener_endpoint = false);
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

  /// Connection events of one endpoint (the Observer methods above count
  /// them for kPoolEndpoint).
  void CountConnectError(std::string_view endpoint, std::string_view kind);
  void CountReconnect(std::string_view endpoint);

  // Sampled by the worker.
  void SetPool(const PoolStats& stats);
  void SetDriverHealth(bool up, bool autocommit_ok, bool isolation_ok);
  void SetListenerAge(double seconds);
  void SetQueueDepth(const std::vector<QueueCount>& counts);
  void SetQueueLag(const std::map<std::string, double>& lag_seconds);
  void SetTableSizes(const std::vector<TableSize>& sizes, std::int64_t unaggregated_log_rows);
  void SetHeldRetention(std::chrono::seconds held_older_than);
  void SetHeldAges(const std::vector<HeldAge>& ages);
  void SetIndexSizes(const std::vector<IndexSize>& indexes);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The observer of the LISTEN connection to `database.listener`: its connect
/// errors and reconnects count under endpoint="listener".
class ListenerEndpointObserver final : public Observer {
 public:
  explicit ListenerEndpointObserver(std::shared_ptr<Metrics> metrics)
      : metrics_(std::move(metrics)) {}
  void OnConnectError(std::string_view kind) override {
    metrics_->CountConnectError(kListenerEndpoint, kind);
  }
  void OnReconnect() override { metrics_->CountReconnect(kListenerEndpoint); }

 private:
  std::shared_ptr<Metrics> metrics_;
};

}  // namespace pgq::worker
