#pragma once
/// @file
/// PgQueuer: a QueueManager and a Scheduler over one driver, the entry point
/// most users start from. Build it from a pool, from a single-connection
/// driver, or (pgq/pqxx.h) from a libpqxx connection you own.

#include <memory>
#include <optional>
#include <string>

#include "pgq/pool.h"
#include "pgq/runtime.h"
#include "pgq/scheduler.h"

namespace pgq {

class PgQueuer {
 public:
  /// From a pool: statements on pooled connections, LISTEN on a dedicated
  /// one. `channel` defaults to the settings' channel.
  static std::unique_ptr<PgQueuer> FromPool(std::shared_ptr<ConnectionPool> pool,
                                            std::optional<std::string> channel = std::nullopt,
                                            std::shared_ptr<Resources> resources = nullptr,
                                            DBSettings settings = DBSettings::FromEnv(),
                                            std::shared_ptr<Observer> observer = nullptr);
  /// From a driver the PgQueuer takes over (e.g. a ConnectionDriver).
  static std::unique_ptr<PgQueuer> FromDriver(std::unique_ptr<Driver> driver,
                                              std::optional<std::string> channel = std::nullopt,
                                              std::shared_ptr<Resources> resources = nullptr,
                                              DBSettings settings = DBSettings::FromEnv(),
                                              std::shared_ptr<Observer> observer = nullptr);
  ~PgQueuer();
  PgQueuer(const PgQueuer&) = delete;
  PgQueuer& operator=(const PgQueuer&) = delete;

  void Entrypoint(const std::string& name, Handler handler, EntrypointOptions options = {}) {
    qm_->Entrypoint(name, std::move(handler), options);
  }
  void Schedule(const std::string& name, const std::string& cron, ScheduleHandler handler,
                bool clean_old = false) {
    scheduler_->Schedule(name, cron, std::move(handler), clean_old);
  }

  /// Runs the queue manager (and the scheduler, on its own thread, when
  /// schedules are registered) until Stop() or the end of a drain. If either
  /// fails, both stop and the first error is rethrown.
  void Run(const RunOptions& options = {});
  void Stop() noexcept;

  QueueManager& queue_manager() noexcept { return *qm_; }
  Scheduler& scheduler() noexcept { return *scheduler_; }
  Driver& driver() noexcept { return *driver_; }
  Resources& resources() noexcept { return *resources_; }
  const std::string& channel() const noexcept { return qm_->channel(); }

 private:
  PgQueuer(std::unique_ptr<Driver> driver, std::optional<std::string> channel,
           std::shared_ptr<Resources> resources, DBSettings settings,
           std::shared_ptr<Observer> observer);
  std::unique_ptr<Driver> driver_;
  std::shared_ptr<Resources> resources_;
  std::unique_ptr<QueueManager> qm_;
  std::unique_ptr<Scheduler> scheduler_;
};

/// Waits for jobs to reach a terminal status (successful, exception,
/// canceled, deleted; a held `failed` job is not terminal), woken by NOTIFY
/// and polling as a fallback.
class CompletionWatcher {
 public:
  CompletionWatcher(Driver& driver, DBSettings settings,
                    std::chrono::milliseconds refresh_interval = std::chrono::seconds(5));
  ~CompletionWatcher();
  CompletionWatcher(const CompletionWatcher&) = delete;
  CompletionWatcher& operator=(const CompletionWatcher&) = delete;

  /// The terminal status, or nullopt if `timeout` passed first.
  std::optional<JobStatus> WaitFor(JobId id, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgq
