// QueueManager is a facade: it validates, wires the parts below together,
// starts and stops their threads in order, and routes notifications.
//
//   part                 thread                    lock
//   Dispatcher           the caller of Run()       last_loop_ is an atomic
//   JobRunner            handler threads           none of its own
//   InFlightTable        all                       mu_: claimed jobs, local work queue,
//                                                  wake/room flags, stop
//   CompletionBatcher    handlers + housekeeper    mu_: buffer, flush_now
//   Housekeeper          housekeeping thread       none: drives the two below
//   Heartbeats           housekeeping thread       none (one thread)
//   StatisticsMaintainer Run(), then housekeeping  none (one thread at a time)
//   Pruner               pruning thread (only when none (one thread)
//                        retention is on)
//   ListenerHealth       health thread + driver    mu_: last event, round trip,
//                        callbacks                 problem, reconnects
//   JobEventLog          handlers + Run()          mu_: rate limit bucket
//   RuntimeStore         all                       its own (SqlStore: the driver's)
//
// No part calls another while holding its own mutex, except that driver
// callbacks run under the driver's locks and take InFlightTable's or
// ListenerHealth's; so neither calls the driver while holding its mutex.

#include <functional>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "pgq/error.h"
#include "queries/events.h"
#include "runtime/backoff.h"
#include "runtime/completion_batcher.h"
#include "runtime/dispatcher.h"
#include "runtime/entrypoint_registry.h"
#include "runtime/heartbeats.h"
#include "runtime/housekeeper.h"
#include "runtime/in_flight_table.h"
#include "runtime/job_runner.h"
#include "runtime/listener_health.h"
#include "runtime/pruner.h"
#include "runtime/queue_manager_access.h"
#include "runtime/records.h"
#include "runtime/runtime_store.h"
#include "runtime/statistics_maintainer.h"

namespace pgq {

namespace {
class NullObserver final : public Observer {};
}  // namespace

struct QueueManager::Impl {
  Impl(std::unique_ptr<detail::RuntimeStore> st, DBSettings s, std::string ch,
       std::shared_ptr<Resources> r, std::shared_ptr<Observer> o)
      : store(std::move(st)),
        settings(std::move(s)),
        channel(ch.empty() ? settings.channel : std::move(ch)),
        resources(r ? std::move(r) : std::make_shared<Resources>()),
        observer(o ? std::move(o) : std::make_shared<NullObserver>()),
        id(detail::NewUuid()),
        completions(*store, log),
        statistics(*store, log),
        heartbeats(*store, table, log),
        listener(*store, channel, observer, [this] { table.Wake(); }),
        events(log, *observer),
        pruner(*store, *observer, log),
        dispatcher({table, *store, *observer, id, log, events}) {}

  std::unique_ptr<detail::RuntimeStore> store;
  DBSettings settings;
  std::string channel;
  std::shared_ptr<Resources> resources;
  std::shared_ptr<Observer> observer;
  const std::string id;
  std::shared_ptr<spdlog::logger> log = spdlog::default_logger();
  detail::EntrypointRegistry entrypoints;
  bool has_limited_entrypoints = false;  // set before LISTEN, read by the listener

  std::atomic<bool> running{false};
  std::atomic<bool> draining{false};

  detail::InFlightTable table;
  detail::CompletionBatcher completions;
  detail::StatisticsMaintainer statistics;
  detail::Heartbeats heartbeats;
  detail::ListenerHealth listener;
  detail::JobEventLog events;
  detail::Pruner pruner;
  detail::Dispatcher dispatcher;

  void OnNotification(const Notification& n);
  // Runs `step` until it does not throw ConnectionError (then true) or a
  // stop is requested (false); logs each new reason once.
  bool WaitForDatabase(const std::function<void()>& step);
  void ReleaseUnstarted(const std::vector<JobId>& unstarted);
};

void QueueManager::Impl::OnNotification(const Notification& n) {
  listener.OnEvent();
  auto event = detail::ParseEvent(n.payload);
  if (!event) {
    log->critical("dropping a notification that is not a pgq event on {}: {:.200}", n.channel,
                  n.payload);
    return;
  }
  observer->OnNotification(event->type);
  if (event->type == "table_changed_event") {
    // Every completion deletes and so notifies: waking the whole fleet to
    // claim for each one costs a claim per worker and finds nothing new.
    if (detail::MayMeanNewWork(*event, has_limited_entrypoints)) table.Wake();
  } else if (event->type == "cancellation_event") {
    table.Cancel(event->ids);
  } else if (event->type == "health_check_event") {
    listener.OnHealthCheck(event->id);
  } else if (event->type != "requests_per_second_event") {
    log->critical("dropping an event of unknown type {}", event->type);
  }
}

bool QueueManager::Impl::WaitForDatabase(const std::function<void()>& step) {
  // A server that is down, or only a standby (a failover in progress, an
  // address not yet moved to the new primary), is waited out here instead
  // of failing Run(): a worker restarted in a loop helps nobody. Retried
  // every second at most, so work starts soon after a primary is reachable.
  constexpr std::chrono::milliseconds kMaxWait{1000};
  std::chrono::milliseconds wait{100};
  std::string logged;
  while (!table.stop_requested()) {
    try {
      step();
      if (!logged.empty()) log->info("the database accepts the queue's writes again");
      return true;
    } catch (const ConnectionError& e) {
      if (logged != e.what()) {
        log->warn("waiting for a writable database (retrying every {} ms at most): {}",
                  kMaxWait.count(), e.what());
        logged = e.what();
      }
    }
    table.WaitForWake(wait);
    wait = std::min(wait * 2, kMaxWait);
  }
  return false;
}

void QueueManager::Impl::ReleaseUnstarted(const std::vector<JobId>& unstarted) {
  if (unstarted.empty()) return;
  detail::RetryFewTimes([&](int attempt) {
    try {
      store->Release(unstarted, id);
      // UPDATEs send no NOTIFY: wake idle peers so they take these at once.
      nlohmann::ordered_json extra;
      extra["operation"] = "update";
      extra["table"] = settings.queue_table;
      store->Notify(channel, detail::EventJson(channel, "table_changed_event", extra));
      log->info("returned {} claimed but unstarted jobs to the queue", unstarted.size());
      return true;
    } catch (const std::exception& e) {
      log->warn("could not return unstarted jobs (attempt {}): {}", attempt + 1, e.what());
      return false;
    }
  });
}

QueueManager::QueueManager(Driver& driver, DBSettings settings, std::string channel,
                           std::shared_ptr<Resources> resources, std::shared_ptr<Observer> observer)
    : QueueManager(std::make_unique<Impl>(std::make_unique<detail::SqlStore>(driver, settings),
                                          settings, std::move(channel), std::move(resources),
                                          std::move(observer))) {}

QueueManager::QueueManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

QueueManager::~QueueManager() = default;

std::unique_ptr<QueueManager> detail::QueueManagerAccess::WithStore(
    std::unique_ptr<RuntimeStore> store, DBSettings settings, std::string channel,
    std::shared_ptr<Resources> resources, std::shared_ptr<Observer> observer) {
  return std::unique_ptr<QueueManager>(new QueueManager(std::make_unique<QueueManager::Impl>(
      std::move(store), std::move(settings), std::move(channel), std::move(resources),
      std::move(observer))));
}

const std::string& QueueManager::id() const noexcept { return impl_->id; }
const std::string& QueueManager::channel() const noexcept { return impl_->channel; }
Queries& QueueManager::queries() noexcept { return impl_->store->queries(); }
Resources& QueueManager::resources() noexcept { return *impl_->resources; }

void QueueManager::Entrypoint(const std::string& name, Handler handler, EntrypointOptions options) {
  if (impl_->running) throw LogicError("register entrypoints before Run()");
  impl_->entrypoints.Add(name, std::move(handler), std::move(options));
}

void QueueManager::Stop() noexcept {
  impl_->table.RequestStop();
  impl_->draining = true;
}

RuntimeHealth QueueManager::Health() const {
  RuntimeHealth health;
  health.running = impl_->running;
  health.draining = impl_->draining;
  health.in_flight = impl_->table.Size();
  impl_->listener.Fill(health);
  health.last_loop = impl_->dispatcher.last_loop();
  return health;
}

void QueueManager::Run(const RunOptions& options) {
  auto& s = *impl_;
  if (s.running.exchange(true)) throw LogicError("QueueManager::Run is already running");
  struct Reset {
    Impl& s;
    ~Reset() { s.running = false; }
  } reset{s};
  if (options.batch_size < 1) throw LogicError("batch_size must be at least 1");
  if (options.max_concurrent_tasks && *options.max_concurrent_tasks < 2 * options.batch_size) {
    throw LogicError("max_concurrent_tasks (" + std::to_string(*options.max_concurrent_tasks) +
                     ") must be at least 2 * batch_size (" +
                     std::to_string(2 * options.batch_size) + ")");
  }
  if (options.health_check_interval.count() <= 0 || options.health_check_timeout.count() <= 0) {
    throw LogicError("health_check_interval and health_check_timeout must be positive");
  }
  if (s.entrypoints.empty()) throw LogicError("no entrypoints registered");
  s.table.Open();
  if (!s.WaitForDatabase([&s] {
        if (const auto problems = s.store->SchemaProblems(); !problems.empty()) {
          std::string joined;
          for (const auto& d : problems) joined += "\n  - " + d;
          throw RuntimeError("the pgq schema is not ready:" + joined);
        }
      })) {
    s.table.Close();  // nothing was claimed yet
    s.table.ClearStop();
    return;
  }
  s.statistics.Configure(options.statistics_check_interval, options.log_aggregation_interval);
  s.statistics.RefreshIfStale();  // before the first claim: a bulk enqueue may precede us
  const std::size_t threads =
      options.handler_threads
          ? options.handler_threads
          : static_cast<std::size_t>(options.max_concurrent_tasks.value_or(2 * options.batch_size));
  const auto capacity = static_cast<std::int64_t>(threads) + options.batch_size;
  s.table.Configure(capacity, std::min(options.batch_size, capacity),
                    options.mode == RunMode::kDrain);
  s.completions.Configure(options.batch_size);
  const auto limits = s.entrypoints.Limits();
  s.has_limited_entrypoints = s.entrypoints.HasLimited();
  const auto names = s.entrypoints.Names();
  s.draining = false;

  // After a reconnect, whatever was notified while LISTEN was away is lost:
  // claim at once and check the listener again.
  std::unique_ptr<Subscription> subscription;
  if (!s.WaitForDatabase([&s, &subscription] {
        subscription = s.store->Listen(
            s.channel, [&s](const Notification& n) { s.OnNotification(n); },
            [&s] {
              s.log->info("LISTEN on {} re-established; looking for work it may have missed",
                          s.channel);
              s.table.Wake();
              s.listener.OnReconnect(s.running);
            });
      })) {
    s.table.Close();  // nothing was claimed yet
    s.table.ClearStop();
    return;
  }
  s.listener.Start();
  detail::JobRunner runner({s.entrypoints, s.table, s.completions, *s.store, *s.observer,
                            *s.resources, s.id, s.log, s.events});
  std::vector<std::jthread> workers;
  for (std::size_t i = 0; i < threads; ++i) workers.emplace_back([&runner] { runner.Serve(); });
  detail::Housekeeper housekeeper(s.completions, s.heartbeats, s.statistics, s.table);
  std::jthread flusher(
      [&](std::stop_token t) { housekeeper.Loop(t, options.heartbeat_timeout); });
  std::jthread health(
      [&s, timing = detail::ListenerHealth::Timing{options.health_check_interval,
                                                   options.health_check_timeout}](
          std::stop_token t) {
        s.listener.Loop(t, timing, s.running);
      });
  std::jthread pruning;
  if (options.retention.enabled() && options.prune_interval.count() > 0) {
    pruning = std::jthread([&s, &options](std::stop_token t) {
      s.pruner.Loop(t, options.retention, options.prune_interval);
    });
  }
  s.log->info("queue manager {} consuming {} entrypoint(s) on channel {}", s.id, names.size(),
              s.channel);

  s.dispatcher.Run(options, limits, names);

  // Shutdown: stop claiming, hand back what never started, let the rest
  // finish within the grace period, flush, return.
  s.draining = true;
  s.ReleaseUnstarted(s.table.Close());
  if (const std::size_t running = s.table.WaitEmptyOrCancel(options.shutdown_grace)) {
    s.log->warn("{} jobs still running after the grace period; cancelling them", running);
  }
  for (auto& worker : workers) worker.join();
  if (pruning.joinable()) {
    pruning.request_stop();
    pruning.join();
  }
  flusher.request_stop();
  s.completions.Interrupt();
  flusher.join();
  detail::RetryFewTimes([&](int) { return s.completions.Flush(); });
  health.request_stop();
  s.listener.Interrupt();
  health.join();
  subscription.reset();
  s.table.ClearStop();  // the instance may Run() again
  s.table.SetWritesFailing(false);
  s.log->info("queue manager {} stopped", s.id);
}

}  // namespace pgq
