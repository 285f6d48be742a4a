#include <cxxabi.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "queries/events.h"
#include "pgq/error.h"
#include "pgq/runtime.h"
#include "pgq/schema.h"

namespace pgq {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::optional<std::chrono::microseconds> RetryPolicy::DelayAfter(std::int32_t attempts) const {
  if (attempts >= max_attempts) return std::nullopt;
  const double scaled = static_cast<double>(initial_delay.count()) *
                        std::pow(multiplier, static_cast<double>(attempts));
  const double capped = std::min(scaled, static_cast<double>(max_delay.count()));
  return std::chrono::microseconds(static_cast<std::int64_t>(capped));
}

std::string NewUuid() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string TimedeltaText(std::chrono::microseconds value) {
  // Python's str(timedelta): "[-]D day[s], H:MM:SS[.ffffff]"; days may be
  // negative while the clock part stays positive.
  std::int64_t us = value.count();
  std::int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86400000000LL - 1) / 86400000000LL);
  std::int64_t rest = us - days * 86400000000LL;
  const std::int64_t hours = rest / 3600000000LL;
  rest %= 3600000000LL;
  const std::int64_t minutes = rest / 60000000LL;
  rest %= 60000000LL;
  const std::int64_t seconds = rest / 1000000LL;
  const std::int64_t micros = rest % 1000000LL;
  char clock[48];
  if (micros) {
    std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld.%06lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds),
                  static_cast<long long>(micros));
  } else {
    std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds));
  }
  if (days == 0) return clock;
  return std::to_string(days) + (days == 1 || days == -1 ? " day, " : " days, ") + clock;
}

std::string TracebackJson(const Job& job, std::string_view queue_manager_id,
                          std::string_view exception_type, std::string_view message,
                          std::string_view traceback,
                          const std::optional<std::string>& retry_context_json) {
  nlohmann::ordered_json context;
  context["entrypoint"] = job.entrypoint;
  context["queue_manager_id"] = queue_manager_id;
  if (retry_context_json) {
    const auto retry = nlohmann::ordered_json::parse(*retry_context_json);
    for (const auto& [k, v] : retry.items()) context[k] = v;
  }
  nlohmann::ordered_json record;
  record["job_id"] = job.id;
  record["timestamp"] = detail::IsoUtcOffset(Clock::now());
  record["exception_type"] = exception_type;
  record["exception_message"] = message;
  record["traceback"] = traceback;
  record["additional_context"] = context;
  return record.dump();
}

namespace {

std::string Demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

class NullObserver final : public Observer {};

struct EntrypointEntry {
  Handler handler;
  EntrypointOptions options;
};

struct InFlight {
  std::stop_source cancel;
  bool started = false;
  std::string entrypoint;
  // Claims of this id not yet finished here: 2 when a retried job is claimed
  // again before its previous run has left. The requeue is written before
  // that run leaves, so a drain always sees the job queued or in flight.
  int runs = 0;
};

}  // namespace

struct QueueManager::Impl {
  Impl(Driver& d, DBSettings s, std::string ch, std::shared_ptr<Resources> r,
       std::shared_ptr<Observer> o)
      : driver(d),
        settings(std::move(s)),
        channel(ch.empty() ? settings.channel : std::move(ch)),
        resources(r ? std::move(r) : std::make_shared<Resources>()),
        observer(o ? std::move(o) : std::make_shared<NullObserver>()),
        queries(driver, settings),
        id(NewUuid()) {}

  Driver& driver;
  DBSettings settings;
  std::string channel;
  std::shared_ptr<Resources> resources;
  std::shared_ptr<Observer> observer;
  Queries queries;
  const std::string id;
  std::map<std::string, EntrypointEntry> entrypoints;
  bool has_limited_entrypoints = false;  // set before LISTEN, read by the listener
  std::shared_ptr<spdlog::logger> log = spdlog::default_logger();

  RunOptions options;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::atomic<bool> draining{false};

  // Dispatcher wake-ups; guarded by mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  bool wake = false;

  // Claimed jobs; guarded by mu.
  std::unordered_map<JobId, InFlight> in_flight;
  std::deque<Job> work;  // claimed, not yet started
  bool accepting = true;
  bool waiting_for_room = false;  // the dispatcher waits for handlers to finish
  // Local backpressure, set by Run(): never hold more claimed jobs than can
  // start soon, and claim only when a whole batch fits.
  std::int64_t capacity = 0;
  std::int64_t claim_threshold = 0;
  std::condition_variable work_cv;

  // Completions waiting for the flusher; guarded by completions_mu.
  std::mutex completions_mu;
  std::condition_variable completions_cv;
  std::vector<Completion> completions;
  bool flush_now = false;  // a limited entrypoint's slot waits on this flush
  std::atomic<std::int64_t> completed_since_aggregate{0};

  // Listener health; guarded by health_mu.
  mutable std::mutex health_mu;
  std::condition_variable health_cv;
  SteadyClock::time_point last_event = SteadyClock::now();
  SteadyClock::time_point last_loop = SteadyClock::now();
  std::string pending_health_id;
  bool health_received = false;
  std::string listener_problem;
  bool was_listening = false;
  std::int64_t reconnects = 0;

  std::vector<EntrypointLimit> Limits() const {
    std::vector<EntrypointLimit> out;
    for (const auto& [name, entry] : entrypoints) {
      out.push_back({name, entry.options.concurrency_limit});
    }
    return out;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entrypoints) out.push_back(name);
    return out;
  }

  void Wake() {
    {
      std::scoped_lock lock(mu);
      wake = true;
    }
    cv.notify_all();
  }

  // Waits until woken, stopped or `timeout`; returns early on stop.
  void WaitForWake(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, timeout, [&] { return wake || stop.load(); });
    wake = false;
    waiting_for_room = false;
  }

  void OnNotification(const Notification& n) {
    {
      std::scoped_lock lock(health_mu);
      last_event = SteadyClock::now();
    }
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
      if (detail::MayMeanNewWork(*event, has_limited_entrypoints)) Wake();
    } else if (event->type == "cancellation_event") {
      std::scoped_lock lock(mu);
      for (JobId job_id : event->ids) {
        if (auto it = in_flight.find(job_id); it != in_flight.end()) it->second.cancel.request_stop();
      }
    } else if (event->type == "health_check_event") {
      std::scoped_lock lock(health_mu);
      if (!pending_health_id.empty() && event->id == pending_health_id) {
        health_received = true;
        health_cv.notify_all();
      }
    } else if (event->type != "requests_per_second_event") {
      log->critical("dropping an event of unknown type {}", event->type);
    }
  }

  // Completions are written in batches of at least this many (or every
  // 100 ms): each write is a notifying commit, which PostgreSQL serialises.
  std::int64_t FlushAt() const { return std::max<std::int64_t>(options.batch_size, 100); }

  // `urgent`: the job's entrypoint has a concurrency limit, and its slot
  // stays taken (queue_manager_id set) until the completion is written, so
  // write it now instead of within ~100 ms.
  void AddCompletion(Completion completion, bool urgent = false) {
    bool flush = urgent;
    {
      std::scoped_lock lock(completions_mu);
      completions.push_back(std::move(completion));
      flush = flush || static_cast<std::int64_t>(completions.size()) >= FlushAt();
      flush_now = flush_now || urgent;
    }
    if (flush) completions_cv.notify_all();
  }

  // The claim's plan depends on the queue table's statistics. Without them
  // (a fresh table, or one analyzed while nearly empty) the planner expects
  // a handful of rows and sorts the whole backlog on every claim: 30 ms per
  // claim at 50k jobs instead of 0.1 ms. Autovacuum catches up only after
  // its naptime, too late for a bulk enqueue, so the worker refreshes them.
  static constexpr std::int64_t kAnalyzeMinChanges = 1000;
  bool may_analyze = true;
  bool statistics_failing = false;

  void RefreshStatisticsIfStale() {
    if (!may_analyze || options.statistics_check_interval.count() <= 0) return;
    try {
      const auto state = queries.QueueStatistics();
      if (state.changed_since_analyze < std::max(kAnalyzeMinChanges, state.rows_at_analyze)) {
        statistics_failing = false;
        return;
      }
      if (!state.may_analyze) {
        may_analyze = false;
        log->info(
            "the queue table's planner statistics are stale ({} rows changed since the last "
            "ANALYZE) and this role may not ANALYZE it; autovacuum will, later",
            state.changed_since_analyze);
        return;
      }
      const auto t0 = SteadyClock::now();
      queries.AnalyzeQueue(kAnalyzeMinChanges);
      log->debug("analyzed the queue table ({} rows changed since the last ANALYZE) in {} ms",
                 state.changed_since_analyze,
                 std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0)
                     .count());
      statistics_failing = false;
    } catch (const std::exception& e) {
      // Once per streak: a long vacuum would otherwise log every interval.
      if (!std::exchange(statistics_failing, true)) {
        log->warn("could not refresh the queue table's statistics (will retry): {}", e.what());
      }
    }
  }

  // Writes buffered completions; on failure they go back to the buffer.
  bool FlushCompletions() {
    std::vector<Completion> batch;
    {
      std::scoped_lock lock(completions_mu);
      batch.swap(completions);
    }
    if (batch.empty()) return true;
    try {
      queries.Complete(batch);
      completed_since_aggregate += static_cast<std::int64_t>(batch.size());
      return true;
    } catch (const std::exception& e) {
      log->warn("could not record {} completions (will retry): {}", batch.size(), e.what());
      std::scoped_lock lock(completions_mu);
      completions.insert(completions.begin(), batch.begin(), batch.end());
      return false;
    }
  }

  void FlusherLoop(const std::stop_token& token) {
    auto backoff = 100ms;
    const auto heartbeat_every =
        std::max<std::chrono::milliseconds>(options.heartbeat_timeout / 4, 50ms);
    auto next_heartbeat = SteadyClock::now() + heartbeat_every;
    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto aggregate_every = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          options.log_aggregation_interval * jitter(rng));
    };
    auto next_aggregate = SteadyClock::now() + aggregate_every();
    auto next_statistics_check = SteadyClock::now() + options.statistics_check_interval;
    while (!token.stop_requested()) {
      {
        std::unique_lock lock(completions_mu);
        completions_cv.wait_for(lock, backoff, [&] {
          return token.stop_requested() || flush_now ||
                 static_cast<std::int64_t>(completions.size()) >= FlushAt();
        });
        flush_now = false;
      }
      backoff = FlushCompletions() ? 100ms : std::min(backoff * 2, 5000ms);
      const auto now = SteadyClock::now();
      if (now >= next_heartbeat) {
        next_heartbeat = now + heartbeat_every;
        std::vector<JobId> ids;
        {
          std::scoped_lock lock(mu);
          for (const auto& [job_id, f] : in_flight) ids.push_back(job_id);
        }
        try {
          queries.Heartbeat(ids);
        } catch (const std::exception& e) {
          log->warn("heartbeat for {} jobs failed: {}", ids.size(), e.what());
        }
      }
      if (now >= next_statistics_check) {
        next_statistics_check = now + options.statistics_check_interval;
        RefreshStatisticsIfStale();
      }
      if (options.log_aggregation_interval.count() > 0 && now >= next_aggregate) {
        next_aggregate = now + aggregate_every();
        // Only when this worker has logged something since the last round.
        if (completed_since_aggregate.exchange(0) > 0) {
          try {
            queries.AggregateLogs();
          } catch (const std::exception& e) {
            log->warn("log aggregation failed: {}", e.what());
          }
        }
      }
    }
  }

  void HealthLoop(const std::stop_token& token) {
    while (!token.stop_requested()) {
      const std::string probe = NewUuid();
      {
        std::scoped_lock lock(health_mu);
        pending_health_id = probe;
        health_received = false;
      }
      bool ok = false;
      std::string problem;
      try {
        nlohmann::ordered_json extra;
        extra["id"] = probe;
        driver.Notify(channel, detail::EventJson(channel, "health_check_event", extra));
        std::unique_lock lock(health_mu);
        ok = health_cv.wait_for(lock, options.health_check_interval,
                                [&] { return health_received || token.stop_requested(); });
        if (!ok) problem = "health_check_event not received back within the check interval";
      } catch (const std::exception& e) {
        problem = std::string("health check failed: ") + e.what();
      }
      const bool listening = driver.ListenerHealthy();
      {
        std::scoped_lock lock(health_mu);
        listener_problem = ok && listening ? "" : (problem.empty() ? "listener is down" : problem);
        if (listening && !was_listening && running) ++reconnects;
        was_listening = listening;
      }
      observer->OnListenerUp(ok && listening);
      std::unique_lock lock(health_mu);
      health_cv.wait_for(lock, options.health_check_interval,
                         [&] { return token.stop_requested(); });
    }
  }

  void WorkerLoop() {
    for (;;) {
      Job job;
      std::stop_token cancel;
      {
        std::unique_lock lock(mu);
        work_cv.wait(lock, [&] { return !work.empty() || !accepting; });
        if (work.empty()) return;  // not accepting and nothing left
        job = std::move(work.front());
        work.pop_front();
        auto& f = in_flight[job.id];
        if (f.started) f.cancel = std::stop_source();  // a new run; the previous one keeps its token
        f.started = true;
        cancel = f.cancel.get_token();
      }
      const bool requeued = Execute(job, cancel);
      bool notify = false;
      {
        std::scoped_lock lock(mu);
        LeaveInFlight(job.id);
        const auto left = static_cast<std::int64_t>(in_flight.size());
        // A requeue sends no NOTIFY: wake the dispatcher so its probe learns
        // when the job is due.
        if (requeued) wake = true;
        // Wake the dispatcher when it waits for room and a batch fits now, or
        // in drain mode once nothing is in flight (it may be done). Waking it
        // for every finished job cost a claim and a probe per job when idle.
        if ((waiting_for_room && capacity - left >= claim_threshold) ||
            (left == 0 && options.mode == RunMode::kDrain)) {
          waiting_for_room = false;
          wake = true;
        }
        // Shutdown waits on cv for in_flight to empty.
        notify = wake || left == 0;
      }
      if (notify) cv.notify_all();
    }
  }

  // Ends one run of `job_id` (mu held).
  void LeaveInFlight(JobId job_id) {
    if (auto it = in_flight.find(job_id); it != in_flight.end() && --it->second.runs <= 0) {
      in_flight.erase(it);
    }
  }

  // Runs the handler and records its outcome; true when the job went back
  // to the queue for a retry.
  bool Execute(const Job& job, const std::stop_token& cancel) {
    bool requeued = false;
    const auto& entry = entrypoints.at(job.entrypoint);
    const bool urgent = entry.options.concurrency_limit > 0;
    const auto started = SteadyClock::now();
    observer->OnJobStarted(job.entrypoint, std::chrono::duration<double>(Clock::now() - job.created));
    std::string outcome;
    if (cancel.stop_requested()) {
      AddCompletion({job.id, JobStatus::kCanceled, std::nullopt}, urgent);
      observer->OnJobFinished(job.entrypoint, "canceled", {});
      return false;
    }
    auto fail = [&](const std::string& type, const std::string& message, bool permanent) {
      const std::string trace = type + ": " + message;
      if (!permanent && entry.options.retry) {
        if (auto delay = entry.options.retry->DelayAfter(job.attempts)) {
          requeued = Retry(job, *delay, type, message, trace, message);
          outcome = "retried";
          return;
        }
      }
      const bool hold = entry.options.on_failure == OnFailure::kHold;
      AddCompletion({job.id, hold ? JobStatus::kFailed : JobStatus::kException,
                     TracebackJson(job, id, type, message, trace)},
                    urgent);
      outcome = hold ? "failed" : "exception";
    };
    try {
      JobContext ctx{job, cancel, *resources};
      entry.handler(ctx);
      const bool canceled = cancel.stop_requested();
      AddCompletion({job.id, canceled ? JobStatus::kCanceled : JobStatus::kSuccessful, std::nullopt},
                    urgent);
      outcome = canceled ? "canceled" : "successful";
    } catch (const RetryRequested& r) {
      requeued = Retry(job, r.delay(), "pgq::RetryRequested", r.what(),
            std::string("pgq::RetryRequested: ") + r.what(), r.reason());
      outcome = "retried";
    } catch (const PermanentFailure& e) {
      fail(Demangle(typeid(e).name()), e.what(), true);
    } catch (const std::exception& e) {
      fail(Demangle(typeid(e).name()), e.what(), false);
    } catch (...) {
      fail("unknown", "a non-standard exception was thrown", false);
    }
    observer->OnJobFinished(job.entrypoint, outcome,
                            std::chrono::duration<double>(SteadyClock::now() - started));
    return requeued;
  }

  bool Retry(const Job& job, std::chrono::microseconds delay, const std::string& type,
             const std::string& message, const std::string& trace, const std::string& reason) {
    nlohmann::ordered_json retry_context;
    retry_context["attempt"] = job.attempts + 1;
    retry_context["retry_delay"] = TimedeltaText(delay);
    retry_context["reason"] = reason;
    try {
      queries.Retry(job.id, delay, TracebackJson(job, id, type, message, trace, retry_context.dump()));
      return true;
    } catch (const std::exception& e) {
      // The row stays picked; once heartbeats stop it is taken over after
      // heartbeat_timeout, so the job still runs again.
      log->error("could not put job {} back for a retry: {}", job.id, e.what());
      return false;
    }
  }
};

QueueManager::QueueManager(Driver& driver, DBSettings settings, std::string channel,
                           std::shared_ptr<Resources> resources, std::shared_ptr<Observer> observer)
    : impl_(std::make_unique<Impl>(driver, std::move(settings), std::move(channel),
                                   std::move(resources), std::move(observer))) {}

QueueManager::~QueueManager() = default;

const std::string& QueueManager::id() const noexcept { return impl_->id; }
const std::string& QueueManager::channel() const noexcept { return impl_->channel; }
Queries& QueueManager::queries() noexcept { return impl_->queries; }
Resources& QueueManager::resources() noexcept { return *impl_->resources; }

void QueueManager::Entrypoint(const std::string& name, Handler handler, EntrypointOptions options) {
  if (impl_->running) throw LogicError("register entrypoints before Run()");
  if (name.empty()) throw LogicError("an entrypoint needs a name");
  if (!handler) throw LogicError("entrypoint \"" + name + "\" has no handler");
  if (options.concurrency_limit < 0) {
    throw LogicError("entrypoint \"" + name + "\": concurrency_limit must be >= 0");
  }
  if (options.retry && (options.retry->max_attempts < 0 || options.retry->multiplier < 1.0 ||
                        options.retry->initial_delay.count() < 0 ||
                        options.retry->max_delay < options.retry->initial_delay)) {
    throw LogicError("entrypoint \"" + name +
                     "\": retry needs max_attempts >= 0, multiplier >= 1 and "
                     "0 <= initial_delay <= max_delay");
  }
  if (!impl_->entrypoints.emplace(name, EntrypointEntry{std::move(handler), options}).second) {
    throw LogicError("entrypoint \"" + name + "\" is already registered");
  }
}

void QueueManager::Stop() noexcept {
  {
    // Under mu: a notify between WaitForWake's check and its sleep would be
    // lost, and the loop would see the stop only dequeue_timeout later.
    std::scoped_lock lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->draining = true;
  impl_->cv.notify_all();
}

RuntimeHealth QueueManager::Health() const {
  RuntimeHealth health;
  health.running = impl_->running;
  health.draining = impl_->draining;
  {
    std::scoped_lock lock(impl_->mu);
    health.in_flight = static_cast<std::int64_t>(impl_->in_flight.size());
  }
  // Ask the driver before taking health_mu: notification callbacks take
  // health_mu under the driver's own locks, so the reverse order could deadlock.
  const bool listening = impl_->driver.ListenerHealthy();
  std::scoped_lock lock(impl_->health_mu);
  health.listener_up = listening && impl_->listener_problem.empty();
  health.listener_problem = impl_->listener_problem;
  health.last_event_age_seconds =
      std::chrono::duration<double>(SteadyClock::now() - impl_->last_event).count();
  health.listener_reconnects = impl_->reconnects;
  health.last_loop = impl_->last_loop;
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
  if (s.entrypoints.empty()) throw LogicError("no entrypoints registered");
  s.options = options;
  const auto report = Schema(s.settings).VerifyForWorker(s.driver);
  if (!report.ok()) {
    std::string joined;
    for (const auto& d : report.differences) joined += "\n  - " + d;
    throw RuntimeError("the pgq schema is not ready:" + joined);
  }
  s.RefreshStatisticsIfStale();  // before the first claim: a bulk enqueue may precede us
  const std::size_t threads =
      options.handler_threads
          ? options.handler_threads
          : static_cast<std::size_t>(options.max_concurrent_tasks.value_or(2 * options.batch_size));
  s.capacity = static_cast<std::int64_t>(threads) + options.batch_size;
  s.claim_threshold = std::min(options.batch_size, s.capacity);
  const std::int64_t capacity = s.capacity;
  const std::int64_t claim_threshold = s.claim_threshold;
  const auto limits = s.Limits();
  s.has_limited_entrypoints = std::any_of(limits.begin(), limits.end(),
                                          [](const auto& l) { return l.concurrency_limit > 0; });
  const auto names = s.Names();
  const std::chrono::microseconds heartbeat_timeout = options.heartbeat_timeout;
  {
    std::scoped_lock lock(s.mu);
    s.accepting = true;
    s.wake = true;  // first round claims at once
  }
  s.draining = false;

  auto subscription = s.driver.Listen(s.channel, [&s](const Notification& n) { s.OnNotification(n); });
  {
    const bool listening = s.driver.ListenerHealthy();  // not under health_mu (see Health())
    std::scoped_lock lock(s.health_mu);
    s.was_listening = listening;
  }
  std::vector<std::jthread> workers;
  for (std::size_t i = 0; i < threads; ++i) workers.emplace_back([&s] { s.WorkerLoop(); });
  std::jthread flusher([&s](std::stop_token t) { s.FlusherLoop(t); });
  std::jthread health([&s](std::stop_token t) { s.HealthLoop(t); });
  s.log->info("queue manager {} consuming {} entrypoint(s) on channel {}", s.id, names.size(),
              s.channel);

  auto backoff = 100ms;
  while (!s.stop) {
    {
      std::scoped_lock lock(s.health_mu);
      s.last_loop = SteadyClock::now();
    }
    bool failed = false;
    // Claim greedily until a batch comes back empty or we are full.
    while (!s.stop) {
      std::int64_t free = 0;
      {
        std::scoped_lock lock(s.mu);
        free = capacity - static_cast<std::int64_t>(s.in_flight.size());
      }
      // Claim full batches: waking for every single freed slot would turn
      // one claim of `batch_size` jobs into many claims of one.
      if (free < claim_threshold) break;
      const std::int64_t want = std::min(free, options.batch_size);
      std::vector<Job> jobs;
      try {
        const auto t0 = SteadyClock::now();
        jobs = s.queries.Dequeue({.batch_size = want,
                                  .entrypoints = limits,
                                  .queue_manager_id = s.id,
                                  .worker_cap = options.max_concurrent_tasks,
                                  .heartbeat_timeout = heartbeat_timeout});
        s.observer->OnDequeue(std::chrono::duration<double>(SteadyClock::now() - t0));
        backoff = 100ms;
      } catch (const std::exception& e) {
        s.log->warn("dequeue failed, retrying in {} ms: {}", backoff.count(), e.what());
        failed = true;
        break;
      }
      const bool partial = static_cast<std::int64_t>(jobs.size()) < want;
      if (jobs.empty()) break;
      {
        std::scoped_lock lock(s.mu);
        for (auto& job : jobs) {
          auto& f = s.in_flight[job.id];
          f.entrypoint = job.entrypoint;
          ++f.runs;
          s.observer->OnJobsClaimed(job.entrypoint, 1);
          if (job.rescued) s.observer->OnJobRescued(job.entrypoint);
          s.work.push_back(std::move(job));
        }
      }
      s.work_cv.notify_all();
      // Fewer than asked for: the rest of the queue is locked, deferred or
      // empty, and claiming again at once would only find the same. An
      // INSERT's NOTIFY or the probe below decides when to look again.
      if (partial) break;
    }
    if (s.stop) break;
    if (failed) {
      s.WaitForWake(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    std::int64_t in_flight = 0;
    bool full = false;
    {
      // Checked and flagged under one lock: the handler that makes room for
      // a batch sees the flag and wakes us.
      std::scoped_lock lock(s.mu);
      in_flight = static_cast<std::int64_t>(s.in_flight.size());
      full = capacity - in_flight < claim_threshold;
      s.waiting_for_room = full;
    }
    try {
      std::chrono::milliseconds timeout = options.dequeue_timeout;
      if (full) {
        // Waits for room.
      } else if (const auto probe = s.queries.ProbeQueue(names); probe.eligible) {
        timeout = 100ms;  // eligible work held back by limits, or a peer claiming it now
      } else if (probe.next_eta) {
        timeout = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*probe.next_eta),
                             100ms, options.dequeue_timeout);
      } else if (probe.queued) {
        timeout = 100ms;
      } else if (options.mode == RunMode::kDrain && in_flight == 0) {
        // Decided on this probe, not an earlier one: rows a peer was claiming
        // looked queued then, and its claim sends no NOTIFY to wait for.
        s.log->info("drain: nothing queued or in flight");
        break;
      }
      s.WaitForWake(timeout);
    } catch (const std::exception& e) {
      s.log->warn("queue probe failed: {}", e.what());
      s.WaitForWake(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

  // Shutdown: stop claiming, hand back what never started, let the rest
  // finish within the grace period, flush, return.
  s.draining = true;
  std::vector<JobId> unstarted;
  {
    std::scoped_lock lock(s.mu);
    s.accepting = false;
    for (const auto& job : s.work) {
      unstarted.push_back(job.id);
      s.LeaveInFlight(job.id);
    }
    s.work.clear();
  }
  s.work_cv.notify_all();
  if (!unstarted.empty()) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      try {
        s.queries.Release(unstarted, s.id);
        // UPDATEs send no NOTIFY: wake idle peers so they take these at once.
        nlohmann::ordered_json extra;
        extra["operation"] = "update";
        extra["table"] = s.settings.queue_table;
        s.driver.Notify(s.channel, detail::EventJson(s.channel, "table_changed_event", extra));
        s.log->info("returned {} claimed but unstarted jobs to the queue", unstarted.size());
        break;
      } catch (const std::exception& e) {
        s.log->warn("could not return unstarted jobs (attempt {}): {}", attempt + 1, e.what());
        std::this_thread::sleep_for(200ms * (attempt + 1));
      }
    }
  }
  {
    std::unique_lock lock(s.mu);
    if (!s.cv.wait_for(lock, options.shutdown_grace, [&] { return s.in_flight.empty(); })) {
      s.log->warn("{} jobs still running after the grace period; cancelling them",
                  s.in_flight.size());
      for (auto& [job_id, f] : s.in_flight) f.cancel.request_stop();
    }
  }
  for (auto& worker : workers) worker.join();
  flusher.request_stop();
  s.completions_cv.notify_all();
  flusher.join();
  for (int attempt = 0; attempt < 5 && !s.FlushCompletions(); ++attempt) {
    std::this_thread::sleep_for(200ms * (attempt + 1));
  }
  health.request_stop();
  s.health_cv.notify_all();
  health.join();
  subscription.reset();
  s.stop = false;  // the instance may Run() again
  s.log->info("queue manager {} stopped", s.id);
}

}  // namespace pgq
