#pragma once
// The seam between the consumer runtime and the database: every statement,
// NOTIFY and LISTEN the runtime issues goes through RuntimeStore. SqlStore
// is the real one (Queries + Driver); tests use an in-memory one
// (tests/unit/support/memory_store.h) to run the runtime without PostgreSQL.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/driver.h"
#include "pgq/queries.h"
#include "pgq/retention.h"
#include "pgq/settings.h"

namespace pgq::detail {

class RuntimeStore {
 public:
  virtual ~RuntimeStore() = default;

  /// Differences that keep a worker from running (empty when ready).
  virtual std::vector<std::string> SchemaProblems() = 0;

  // The queue, as in Queries (same names and semantics).
  virtual std::vector<Job> Dequeue(const ClaimRequest& request) = 0;
  virtual void Complete(const std::vector<Completion>& completions) = 0;
  virtual bool Retry(JobId id, std::chrono::microseconds delay,
                     std::optional<std::string> traceback) = 0;
  virtual void Heartbeat(const std::vector<JobId>& ids) = 0;
  virtual std::int64_t Release(const std::vector<JobId>& ids,
                               std::string_view queue_manager_id) = 0;
  virtual Queries::QueueProbe ProbeQueue(const std::vector<std::string>& entrypoints) = 0;
  virtual Queries::StatisticsState QueueStatistics() = 0;
  virtual void AnalyzeQueue(std::int64_t min_changes) = 0;
  virtual bool AggregateLogs() = 0;
  /// One prune run, as in RetentionQueries.
  virtual PruneReport Prune(const RetentionPolicy& policy) = 0;

  // Notifications, as in Driver.
  virtual void Notify(std::string_view channel, std::string_view payload) = 0;
  virtual std::unique_ptr<Subscription> Listen(std::string_view channel,
                                               NotificationCallback callback,
                                               ReconnectCallback on_reconnect) = 0;
  virtual bool ListenerHealthy() const = 0;

  /// What QueueManager::queries() hands out.
  virtual Queries& queries() noexcept = 0;
};

/// The real store: statements through Queries, notifications through the Driver.
class SqlStore final : public RuntimeStore {
 public:
  SqlStore(Driver& driver, DBSettings settings);

  std::vector<std::string> SchemaProblems() override;
  std::vector<Job> Dequeue(const ClaimRequest& request) override;
  void Complete(const std::vector<Completion>& completions) override;
  bool Retry(JobId id, std::chrono::microseconds delay,
             std::optional<std::string> traceback) override;
  void Heartbeat(const std::vector<JobId>& ids) override;
  std::int64_t Release(const std::vector<JobId>& ids, std::string_view queue_manager_id) override;
  Queries::QueueProbe ProbeQueue(const std::vector<std::string>& entrypoints) override;
  Queries::StatisticsState QueueStatistics() override;
  void AnalyzeQueue(std::int64_t min_changes) override;
  bool AggregateLogs() override;
  PruneReport Prune(const RetentionPolicy& policy) override;
  void Notify(std::string_view channel, std::string_view payload) override;
  std::unique_ptr<Subscription> Listen(std::string_view channel, NotificationCallback callback,
                                       ReconnectCallback on_reconnect) override;
  bool ListenerHealthy() const override;
  Queries& queries() noexcept override { return queries_; }

 private:
  Driver& driver_;
  DBSettings settings_;
  Queries queries_;
  RetentionQueries retention_;
};

}  // namespace pgq::detail
