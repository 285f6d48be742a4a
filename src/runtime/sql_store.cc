#include "runtime/runtime_store.h"

#include "pgq/schema.h"

namespace pgq::detail {

SqlStore::SqlStore(Driver& driver, DBSettings settings)
    : driver_(driver),
      settings_(std::move(settings)),
      queries_(driver_, settings_),
      retention_(driver_, settings_) {}

std::vector<std::string> SqlStore::SchemaProblems() {
  auto report = Schema(settings_).VerifyForWorker(driver_);
  if (report.ok()) return {};
  return std::move(report.differences);
}

std::vector<Job> SqlStore::Dequeue(const ClaimRequest& request) {
  return queries_.Dequeue(request);
}

void SqlStore::Complete(const std::vector<Completion>& completions) {
  queries_.Complete(completions);
}

bool SqlStore::Retry(JobId id, std::chrono::microseconds delay,
                     std::optional<std::string> traceback) {
  return queries_.Retry(id, delay, std::move(traceback));
}

void SqlStore::Heartbeat(const std::vector<JobId>& ids) { queries_.Heartbeat(ids); }

std::int64_t SqlStore::Release(const std::vector<JobId>& ids, std::string_view queue_manager_id) {
  return queries_.Release(ids, queue_manager_id);
}

Queries::QueueProbe SqlStore::ProbeQueue(const std::vector<std::string>& entrypoints) {
  return queries_.ProbeQueue(entrypoints);
}

Queries::StatisticsState SqlStore::QueueStatistics() { return queries_.QueueStatistics(); }

void SqlStore::AnalyzeQueue(std::int64_t min_changes) { queries_.AnalyzeQueue(min_changes); }

bool SqlStore::AggregateLogs() { return queries_.AggregateLogs(); }

PruneReport SqlStore::Prune(const RetentionPolicy& policy) { return retention_.Prune(policy); }

void SqlStore::Notify(std::string_view channel, std::string_view payload) {
  driver_.Notify(channel, payload);
}

std::unique_ptr<Subscription> SqlStore::Listen(std::string_view channel,
                                               NotificationCallback callback,
                                           ReconnectCallback on_reconnect) {
  return driver_.Listen(channel, std::move(callback), std::move(on_reconnect));
}

bool SqlStore::ListenerHealthy() const { return driver_.ListenerHealthy(); }

}  // namespace pgq::detail
