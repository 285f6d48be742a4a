#include "pgq/pgqueuer.h"

#include <condition_variable>
#include <exception>
#include <thread>

#include <spdlog/spdlog.h>

#include "queries/events.h"
#include "pgq/error.h"
#include "pgq/pqxx.h"

namespace pgq {

PgQueuer::PgQueuer(std::unique_ptr<Driver> driver, std::optional<std::string> channel,
                   std::shared_ptr<Resources> resources, DBSettings settings,
                   std::shared_ptr<Observer> observer)
    : driver_(std::move(driver)),
      resources_(resources ? std::move(resources) : std::make_shared<Resources>()) {
  if (!driver_) throw LogicError("PgQueuer needs a driver");
  qm_ = std::make_unique<QueueManager>(*driver_, settings, channel.value_or(settings.channel),
                                       resources_, observer);
  scheduler_ = std::make_unique<Scheduler>(*driver_, settings, resources_, std::move(observer));
}

PgQueuer::~PgQueuer() = default;

std::unique_ptr<PgQueuer> PgQueuer::FromPool(std::shared_ptr<ConnectionPool> pool,
                                             std::optional<std::string> channel,
                                             std::shared_ptr<Resources> resources,
                                             DBSettings settings,
                                             std::shared_ptr<Observer> observer) {
  return FromDriver(std::make_unique<PoolDriver>(std::move(pool)), std::move(channel),
                    std::move(resources), std::move(settings), std::move(observer));
}

std::unique_ptr<PgQueuer> PgQueuer::FromDriver(std::unique_ptr<Driver> driver,
                                               std::optional<std::string> channel,
                                               std::shared_ptr<Resources> resources,
                                               DBSettings settings,
                                               std::shared_ptr<Observer> observer) {
  return std::unique_ptr<PgQueuer>(new PgQueuer(std::move(driver), std::move(channel),
                                                std::move(resources), std::move(settings),
                                                std::move(observer)));
}

std::unique_ptr<PgQueuer> PgQueuerFromConnection(pqxx::connection_base& connection,
                                                 std::optional<std::string> channel,
                                                 std::shared_ptr<Resources> resources,
                                                 DBSettings settings) {
  return PgQueuer::FromDriver(BorrowConnection(connection), std::move(channel),
                              std::move(resources), std::move(settings));
}

void PgQueuer::Run(const RunOptions& options) {
  std::exception_ptr scheduler_error;
  std::jthread scheduler_thread;
  if (!scheduler_->empty()) {
    scheduler_thread = std::jthread([&] {
      try {
        scheduler_->Run();
      } catch (...) {
        scheduler_error = std::current_exception();
        qm_->Stop();  // one fails, both stop
      }
    });
  }
  std::exception_ptr qm_error;
  try {
    qm_->Run(options);
  } catch (...) {
    qm_error = std::current_exception();
  }
  scheduler_->Stop();
  if (scheduler_thread.joinable()) scheduler_thread.join();
  if (qm_error) std::rethrow_exception(qm_error);
  if (scheduler_error) std::rethrow_exception(scheduler_error);
}

void PgQueuer::Stop() noexcept {
  qm_->Stop();
  scheduler_->Stop();
}

// ------------------------------------------------------ CompletionWatcher

struct CompletionWatcher::Impl {
  Impl(Driver& d, DBSettings s, std::chrono::milliseconds refresh)
      : driver(d), queries(d, s), refresh_interval(refresh) {}
  Driver& driver;
  Queries queries;
  std::chrono::milliseconds refresh_interval;
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t changes = 0;  // table_changed_event count; guarded by mu
  std::unique_ptr<Subscription> subscription;
};

CompletionWatcher::CompletionWatcher(Driver& driver, DBSettings settings,
                                     std::chrono::milliseconds refresh_interval)
    : impl_(std::make_unique<Impl>(driver, settings, refresh_interval)) {
  auto* impl = impl_.get();
  impl_->subscription = driver.Listen(settings.channel, [impl](const Notification& n) {
    auto event = detail::ParseEvent(n.payload);
    if (!event || event->type != "table_changed_event") return;
    {
      std::scoped_lock lock(impl->mu);
      ++impl->changes;
    }
    impl->cv.notify_all();
  });
}

CompletionWatcher::~CompletionWatcher() { impl_->subscription.reset(); }

std::optional<JobStatus> CompletionWatcher::WaitFor(JobId id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::scoped_lock lock(impl_->mu);
      seen = impl_->changes;
    }
    for (const auto& [job_id, status] : impl_->queries.JobStatuses({id})) {
      if (job_id == id && status != JobStatus::kQueued && status != JobStatus::kPicked &&
          status != JobStatus::kFailed) {
        return status;
      }
    }
    std::unique_lock lock(impl_->mu);
    const auto until = std::min(deadline, std::chrono::steady_clock::now() + impl_->refresh_interval);
    impl_->cv.wait_until(lock, until, [&] { return impl_->changes != seen; });
    if (std::chrono::steady_clock::now() >= deadline && impl_->changes == seen) return std::nullopt;
  }
}

}  // namespace pgq
