#pragma once
// An in-memory RuntimeStore: the queue as a map, so the runtime's threads,
// wake-ups and shutdown can be tested without PostgreSQL. It keeps the
// semantics the runtime relies on (claim batch size, per-entrypoint limits,
// statuses, retry delay and attempts, release, heartbeats, stale takeover)
// and delivers NOTIFY-like events to the listener callbacks synchronously.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/runtime_store.h"

namespace pgq::testing_util {

class MemoryStore final : public detail::RuntimeStore {
 public:
  explicit MemoryStore(DBSettings settings = DBSettings::WithPrefix());
  ~MemoryStore() override;

  // Test side. Enqueue notifies like the INSERT trigger does.
  JobId Enqueue(const std::string& entrypoint, std::chrono::microseconds delay = {},
                std::int32_t priority = 0);
  /// The row, or nullopt once it is gone (completed and not held).
  std::optional<Job> Find(JobId id) const;
  /// The last status a completion or retry recorded for `id`.
  std::optional<JobStatus> LastLogged(JobId id) const;
  /// The traceback JSON of the last failure or retry of `id` ("" if none).
  std::string LastTraceback(JobId id) const;
  std::int64_t CountWithStatus(JobStatus status) const;
  std::int64_t probes() const;
  /// Faults of the LISTEN side. Down: nothing is delivered and
  /// ListenerHealthy() is false; back up: the reconnect callbacks run.
  void SetListenerDown(bool down);
  /// Notifications vanish while the listener still looks healthy.
  void LoseNotifications(bool lose);
  std::int64_t released() const;
  /// A read-only or lost server for this worker's own writes: Complete and
  /// Heartbeat throw ReadOnlyError (and count the attempts) while set.
  void SetWritesFailing(bool failing);
  std::int64_t failed_writes() const;
  std::int64_t dequeues() const;

  // RuntimeStore.
  std::vector<std::string> SchemaProblems() override { return {}; }
  std::vector<Job> Dequeue(const ClaimRequest& request) override;
  void Complete(const std::vector<Completion>& completions) override;
  bool Retry(JobId id, std::chrono::microseconds delay,
             std::optional<std::string> traceback) override;
  void Heartbeat(const std::vector<JobId>& ids) override;
  std::int64_t Release(const std::vector<JobId>& ids, std::string_view queue_manager_id) override;
  Queries::QueueProbe ProbeQueue(const std::vector<std::string>& entrypoints) override;
  Queries::StatisticsState QueueStatistics() override { return {0, 0, true}; }
  void AnalyzeQueue(std::int64_t) override {}
  bool AggregateLogs() override { return true; }
  /// Counts runs; prunes nothing (there is no log here).
  PruneReport Prune(const RetentionPolicy&) override;
  std::int64_t prune_runs() const;
  void Notify(std::string_view channel, std::string_view payload) override;
  std::unique_ptr<Subscription> Listen(std::string_view channel, NotificationCallback callback,
                                       ReconnectCallback on_reconnect) override;
  bool ListenerHealthy() const override;
  Queries& queries() noexcept override;

 private:
  class Listener;
  void NotifyTableChanged(const std::string& operation);

  DBSettings settings_;
  mutable std::mutex mu_;  // guards the queue state below
  std::map<JobId, Job> jobs_;
  std::map<JobId, JobStatus> logged_;
  std::map<JobId, std::string> tracebacks_;
  JobId next_id_ = 1;
  std::int64_t probes_ = 0;
  std::int64_t released_ = 0;
  std::int64_t prune_runs_ = 0;
  bool writes_failing_ = false;
  std::int64_t failed_writes_ = 0;
  std::int64_t dequeues_ = 0;
  // Guards listeners_; held while a callback runs, so an unsubscribed
  // callback is never called afterwards.
  mutable std::mutex listeners_mu_;
  struct ListenerEntry {
    std::string channel;
    NotificationCallback callback;
    ReconnectCallback on_reconnect;
  };
  std::map<int, ListenerEntry> listeners_;
  bool listener_down_ = false;
  bool lose_notifications_ = false;
  int next_listener_ = 0;
  // queries() must hand out a Queries; its SQL goes to a driver that refuses.
  std::unique_ptr<Driver> no_sql_;
  std::unique_ptr<Queries> queries_;
};

}  // namespace pgq::testing_util
