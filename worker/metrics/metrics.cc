#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <set>

namespace pgq::worker {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

const prometheus::Histogram::BucketBoundaries kFastSeconds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const prometheus::Histogram::BucketBoundaries kPruneSeconds{0.01, 0.05, 0.1, 0.5, 1,  2.5,
                                                              5,    10,   30,  60,  120};
const prometheus::Histogram::BucketBoundaries kJobSeconds{
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900};

Family<Counter>& Counters(prometheus::Registry& registry, const char* name, const char* help) {
  return BuildCounter().Name(name).Help(help).Register(registry);
}
Family<Gauge>& Gauges(prometheus::Registry& registry, const char* name, const char* help) {
  return BuildGauge().Name(name).Help(help).Register(registry);
}
Family<Histogram>& Histograms(prometheus::Registry& registry, const char* name, const char* help) {
  return BuildHistogram().Name(name).Help(help).Register(registry);
}

// A labelled child per label value, created once and kept.
template <typename T, typename... Args>
class Children {
 public:
  Children(Family<T>& family, std::string label, Args... args)
      : family_(family), label_(std::move(label)), args_(args...) {}
  T& Get(std::string_view value) {
    std::scoped_lock lock(mu_);
    auto it = children_.find(std::string(value));
    if (it != children_.end()) return *it->second;
    T& child = std::apply(
        [&](const Args&... a) -> T& {
          return family_.Add({{label_, std::string(value)}}, a...);
        },
        args_);
    children_.emplace(std::string(value), &child);
    return child;
  }
  std::vector<std::string> Values() {
    std::scoped_lock lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, v] : children_) out.push_back(k);
    return out;
  }

 private:
  Family<T>& family_;
  std::string label_;
  std::tuple<Args...> args_;
  std::mutex mu_;
  std::map<std::string, T*> children_;
};

// A child per pair of label values, created once and kept.
template <typename T>
class PairChildren {
 public:
  PairChildren(Family<T>& family, std::string first, std::string second)
      : family_(family), first_(std::move(first)), second_(std::move(second)) {}
  T& Get(std::string_view a, std::string_view b) {
    std::scoped_lock lock(mu_);
    auto key = std::make_pair(std::string(a), std::string(b));
    auto it = children_.find(key);
    if (it == children_.end()) {
      it = children_.emplace(key, &family_.Add({{first_, key.first}, {second_, key.second}})).first;
    }
    return *it->second;
  }
  /// Sets every child to `totals[key]`, or 0 when it has no entry (drained
  /// since the last sample), creating children for new keys.
  void SetAll(const std::map<std::pair<std::string, std::string>, double>& totals) {
    std::scoped_lock lock(mu_);
    for (auto& [key, child] : children_) {
      if (!totals.contains(key)) child->Set(0);
    }
    for (const auto& [key, value] : totals) {
      auto it = children_.find(key);
      if (it == children_.end()) {
        it = children_.emplace(key, &family_.Add({{first_, key.first}, {second_, key.second}}))
                 .first;
      }
      it->second->Set(value);
    }
  }

 private:
  Family<T>& family_;
  std::string first_, second_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, T*> children_;
};

// Every outcome OnJobFinished reports (src/runtime/job_runner.cc).
constexpr const char* kJobOutcomes[] = {"successful", "exception", "canceled", "failed", "retried"};
// Every outcome OnScheduleRun reports (src/runtime/scheduler.cc).
constexpr const char* kScheduleOutcomes[] = {"successful", "exception"};
// Statuses of rows in the queue table.
constexpr const char* kQueueStatuses[] = {"queued", "picked"};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  Family<Gauge>& pool_connections =
      Gauges(*registry, "pgq_pool_connections", "Open pooled connections by state");
  Gauge& pool_active = pool_connections.Add({{"state", "active"}});
  Gauge& pool_idle = pool_connections.Add({{"state", "idle"}});
  Gauge& pool_max = Gauges(*registry, "pgq_pool_connections_max",
                           "Configured maximum pool size (includes the LISTEN connection)")
                        .Add({});
  Gauge& pool_min =
      Gauges(*registry, "pgq_pool_connections_min", "Configured minimum pool size").Add({});
  Gauge& pool_pending =
      Gauges(*registry, "pgq_pool_pending_acquires", "Callers waiting for a pooled connection")
          .Add({});
  Histogram& acquire_seconds =
      Histograms(*registry, "pgq_pool_acquire_seconds", "Time to lease a pooled connection")
          .Add({}, kFastSeconds);
  Histogram& usage_seconds =
      Histograms(*registry, "pgq_pool_usage_seconds", "How long a lease held its connection")
          .Add({}, kFastSeconds);
  Counter& acquire_timeouts = Counters(*registry, "pgq_pool_acquire_timeouts_total",
                                       "Acquires that gave up after acquire_timeout")
                                  .Add({});
  Counter& created =
      Counters(*registry, "pgq_pool_connections_created_total", "Connections opened by the pool")
          .Add({});
  Family<Counter>& closed_family = Counters(*registry, "pgq_pool_connections_closed_total",
                                            "Connections closed by the pool, by reason");
  Children<Counter> closed{closed_family, "reason"};

  Gauge& driver_up =
      Gauges(*registry, "pgq_driver_up", "1 when the database answered the last check").Add({});
  Gauge& autocommit_ok = Gauges(*registry, "pgq_driver_autocommit_ok",
                                "1 when no pooled connection is inside a transaction block")
                             .Add({});
  Gauge& isolation_ok = Gauges(*registry, "pgq_driver_isolation_ok",
                               "1 when connections run at the expected isolation level")
                            .Add({});
  Family<Counter>& reconnects_family =
      Counters(*registry, "pgq_driver_reconnects_total",
               "Connections re-opened after a failure, by endpoint");
  Children<Counter> reconnects{reconnects_family, "endpoint"};
  Family<Counter>& errors_family =
      Counters(*registry, "pgq_driver_errors_total", "Driver errors by kind and endpoint");
  PairChildren<Counter> errors{errors_family, "kind", "endpoint"};
  Family<Gauge>& listener_up_family =
      Gauges(*registry, "pgq_listener_up",
             "1 when the LISTEN connection passed its last health check, by its endpoint");
  Gauge* listener_up = nullptr;  // the child of the LISTEN connection's endpoint
  Family<Counter>& notifications_family =
      Counters(*registry, "pgq_notifications_total", "Notifications received, by event type");
  Children<Counter> notifications{notifications_family, "type"};
  Gauge& listener_age = Gauges(*registry, "pgq_listener_last_event_age_seconds",
                               "Seconds since the last notification of any kind")
                            .Add({});

  Family<Counter>& jobs_family =
      Counters(*registry, "pgq_jobs_total", "Finished jobs by entrypoint and outcome");
  PairChildren<Counter> jobs{jobs_family, "entrypoint", "outcome"};
  Family<Counter>& claimed_family =
      Counters(*registry, "pgq_jobs_claimed_total", "Jobs this worker claimed from the queue");
  Children<Counter> claimed{claimed_family, "entrypoint"};
  Family<Histogram>& duration_family =
      Histograms(*registry, "pgq_job_duration_seconds", "Handler run time");
  Children<Histogram, Histogram::BucketBoundaries> duration{duration_family, "entrypoint",
                                                            kJobSeconds};
  Family<Histogram>& wait_family =
      Histograms(*registry, "pgq_job_wait_seconds", "Time from enqueue to handler start");
  Children<Histogram, Histogram::BucketBoundaries> wait{wait_family, "entrypoint", kJobSeconds};
  Family<Gauge>& in_flight_family =
      Gauges(*registry, "pgq_jobs_in_flight", "Jobs running in this worker");
  Children<Gauge> in_flight{in_flight_family, "entrypoint"};
  Family<Gauge>& depth_family = Gauges(
      *registry, "pgq_queue_depth", "Rows in the queue table by entrypoint and status (sampled)");
  PairChildren<Gauge> depth{depth_family, "entrypoint", "status"};
  Family<Gauge>& lag_family =
      Gauges(*registry, "pgq_queue_lag_seconds", "Age of the oldest eligible queued job (sampled)");
  Children<Gauge> lag{lag_family, "entrypoint"};
  Histogram& dequeue_seconds =
      Histograms(*registry, "pgq_dequeue_seconds", "Time of one claim statement")
          .Add({}, kFastSeconds);
  Counter& rescued = Counters(*registry, "pgq_heartbeat_rescued_total",
                              "Jobs taken over from workers whose heartbeat stopped")
                         .Add({});
  Family<Counter>& schedule_runs_family =
      Counters(*registry, "pgq_schedule_runs_total", "Schedule runs by schedule and outcome");
  PairChildren<Counter> schedule_runs{schedule_runs_family, "schedule", "outcome"};
  Family<Histogram>& schedule_duration_family =
      Histograms(*registry, "pgq_schedule_duration_seconds", "Schedule handler run time");
  Children<Histogram, Histogram::BucketBoundaries> schedule_duration{schedule_duration_family,
                                                                     "schedule", kJobSeconds};
  Family<Gauge>& schedule_success_family =
      Gauges(*registry, "pgq_schedule_last_success_timestamp_seconds",
             "Unix time this worker last ran the schedule successfully (0: not since start)");
  Children<Gauge> schedule_success{schedule_success_family, "schedule"};
  Family<Gauge>& schedule_next_family =
      Gauges(*registry, "pgq_schedule_next_run_timestamp_seconds",
             "Unix time the schedule is due next, as the database has it (sampled)");
  Children<Gauge> schedule_next{schedule_next_family, "schedule"};
  Counter& log_suppressed =
      Counters(*registry, "pgq_job_log_suppressed_total",
               "Job failure/retry/rescue log lines dropped by the rate limit")
          .Add({});
  Family<Counter>& pruned_family = BuildCounter()
                                       .Name("pgq_pruned_rows_total")
                                       .Help("Rows this worker pruned, by table")
                                       .Register(*registry);
  Counter& pruned_log = pruned_family.Add({{"table", "log"}});
  Counter& pruned_statistics = pruned_family.Add({{"table", "statistics"}});
  Counter& pruned_held = pruned_family.Add({{"table", "held"}});
  Histogram& prune_seconds = BuildHistogram()
                                 .Name("pgq_prune_duration_seconds")
                                 .Help("Duration of this worker's prune runs (that took the lock)")
                                 .Register(*registry)
                                 .Add({}, kPruneSeconds);
  Counter& prune_errors = BuildCounter()
                              .Name("pgq_prune_errors_total")
                              .Help("Prune runs that failed (e.g. a lock or statement timeout)")
                              .Register(*registry)
                              .Add({});
  Gauge& prune_success = BuildGauge()
                             .Name("pgq_prune_last_success_timestamp_seconds")
                             .Help("When a prune run of this worker last ended without error")
                             .Register(*registry)
                             .Add({});
  Family<Gauge>& table_rows_family = BuildGauge()
                                         .Name("pgq_table_estimated_rows")
                                         .Help("Rows of each queue table, the planner's estimate "
                                               "(sampled every minute)")
                                         .Register(*registry);
  Children<Gauge> table_rows{table_rows_family, "table"};
  Family<Gauge>& table_bytes_family = BuildGauge()
                                          .Name("pgq_table_size_bytes")
                                          .Help("On-disk size of each queue table with its indexes "
                                                "and TOAST (sampled every minute)")
                                          .Register(*registry);
  Children<Gauge> table_bytes{table_bytes_family, "table"};
  Gauge& unaggregated = BuildGauge()
                            .Name("pgq_log_unaggregated_rows")
                            .Help("Log rows not yet rolled into statistics, counted up to 1e6 "
                                  "(sampled every minute)")
                            .Register(*registry)
                            .Add({});
  Family<Gauge>& held_age_family =
      Gauges(*registry, "pgq_held_oldest_age_seconds",
             "Since the oldest held job of each entrypoint was held (sampled every minute)");
  Children<Gauge> held_age{held_age_family, "entrypoint"};
  Gauge& held_retention =
      Gauges(*registry, "pgq_retention_held_older_than_seconds",
             "This worker's retention.held_older_than (0: held jobs are kept)")
          .Add({});
  Family<Gauge>& index_bytes_family =
      Gauges(*registry, "pgq_index_size_bytes",
             "On-disk size of each index of the queue and log tables (sampled every minute)");
  PairChildren<Gauge> index_bytes{index_bytes_family, "table", "index"};
  Family<Gauge>& index_estimate_family =
      Gauges(*registry, "pgq_index_estimated_bytes",
             "Size each index of the queue and log tables would have freshly built, estimated "
             "from its live entries (sampled every minute)");
  PairChildren<Gauge> index_estimate{index_estimate_family, "table", "index"};
  Family<Gauge>& build_info =
      Gauges(*registry, "pgq_build_info", "Build information; the value is always 1");
};

Metrics::Metrics(const std::string& version, bool listener_endpoint)
    : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", version}}).Set(1);
  for (const auto reason :
       {CloseReason::kMaxLifetime, CloseReason::kBroken, CloseReason::kStateViolation,
        CloseReason::kShutdown, CloseReason::kIdleCheckFailed}) {
    impl_->closed.Get(ToString(reason));
  }
  for (const char* kind : {"connect", "read_only", "state_in_transaction", "state_isolation"}) {
    impl_->errors.Get(kind, kPoolEndpoint);
  }
  impl_->reconnects.Get(kPoolEndpoint);
  const std::string_view listen_at = listener_endpoint ? kListenerEndpoint : kPoolEndpoint;
  if (listener_endpoint) {
    impl_->errors.Get("connect", listen_at);
    impl_->errors.Get("read_only", listen_at);
    impl_->reconnects.Get(listen_at);
  }
  impl_->listener_up = &impl_->listener_up_family.Add({{"endpoint", std::string(listen_at)}});
  impl_->autocommit_ok.Set(1);
  impl_->isolation_ok.Set(1);
}

Metrics::~Metrics() = default;

void Metrics::Prepare(const std::vector<std::string>& entrypoints,
                      const std::vector<std::string>& schedules) {
  for (const auto& e : entrypoints) {
    for (const char* outcome : kJobOutcomes) impl_->jobs.Get(e, outcome);
    impl_->claimed.Get(e);
    impl_->duration.Get(e);
    impl_->wait.Get(e);
    impl_->in_flight.Get(e);
    impl_->lag.Get(e);
    impl_->held_age.Get(e);
    for (const char* status : kQueueStatuses) impl_->depth.Get(e, status);
  }
  for (const auto& s : schedules) {
    for (const char* outcome : kScheduleOutcomes) impl_->schedule_runs.Get(s, outcome);
    impl_->schedule_duration.Get(s);
    impl_->schedule_success.Get(s);
    // The next run is known once the scheduler has read the database; until
    // then 0, and with the last success also 0 the overdue alert stays quiet.
    impl_->schedule_next.Get(s);
  }
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

void Metrics::OnAcquire(std::chrono::nanoseconds waited) {
  impl_->acquire_seconds.Observe(std::chrono::duration<double>(waited).count());
}
void Metrics::OnAcquireTimeout() { impl_->acquire_timeouts.Increment(); }
void Metrics::OnRelease(std::chrono::nanoseconds held) {
  impl_->usage_seconds.Observe(std::chrono::duration<double>(held).count());
}
void Metrics::OnConnectionCreated() { impl_->created.Increment(); }
void Metrics::OnConnectionClosed(CloseReason reason) {
  impl_->closed.Get(ToString(reason)).Increment();
}
void Metrics::OnConnectError(std::string_view kind) { CountConnectError(kPoolEndpoint, kind); }
void Metrics::OnReconnect() { CountReconnect(kPoolEndpoint); }
void Metrics::CountConnectError(std::string_view endpoint, std::string_view kind) {
  impl_->errors.Get(kind, endpoint).Increment();
}
void Metrics::CountReconnect(std::string_view endpoint) {
  impl_->reconnects.Get(endpoint).Increment();
}
// Reported by the pool only: pooled connections are the pool endpoint's.
void Metrics::OnStateViolation(bool in_transaction, bool isolation) {
  if (in_transaction) {
    impl_->errors.Get("state_in_transaction", kPoolEndpoint).Increment();
    impl_->autocommit_ok.Set(0);
  }
  if (isolation) {
    impl_->errors.Get("state_isolation", kPoolEndpoint).Increment();
    impl_->isolation_ok.Set(0);
  }
}
void Metrics::OnListenerUp(bool up) { impl_->listener_up->Set(up ? 1 : 0); }
void Metrics::OnNotification(std::string_view type) { impl_->notifications.Get(type).Increment(); }
void Metrics::OnJobsClaimed(std::string_view entrypoint, std::size_t count) {
  impl_->claimed.Get(entrypoint).Increment(static_cast<double>(count));
}
void Metrics::OnJobRescued(std::string_view) { impl_->rescued.Increment(); }
void Metrics::OnJobLogSuppressed() { impl_->log_suppressed.Increment(); }
void Metrics::OnJobStarted(std::string_view entrypoint, std::chrono::duration<double> waited) {
  impl_->wait.Get(entrypoint).Observe(std::max(0.0, waited.count()));
  impl_->in_flight.Get(entrypoint).Increment();
}
void Metrics::OnJobFinished(std::string_view entrypoint, std::string_view outcome,
                            std::chrono::duration<double> took) {
  impl_->duration.Get(entrypoint).Observe(took.count());
  impl_->in_flight.Get(entrypoint).Decrement();
  impl_->jobs.Get(entrypoint, outcome).Increment();
}
void Metrics::OnDequeue(std::chrono::duration<double> took) {
  impl_->dequeue_seconds.Observe(took.count());
}
void Metrics::OnScheduleRun(std::string_view schedule, std::string_view outcome,
                            std::chrono::duration<double> took) {
  impl_->schedule_runs.Get(schedule, outcome).Increment();
  impl_->schedule_duration.Get(schedule).Observe(took.count());
  if (outcome == "successful") {
    const std::chrono::duration<double> since_epoch =
        std::chrono::system_clock::now().time_since_epoch();
    impl_->schedule_success.Get(schedule).Set(since_epoch.count());
  }
}
void Metrics::OnScheduleNextRun(std::string_view schedule,
                                std::chrono::system_clock::time_point next_run) {
  const std::chrono::duration<double> since_epoch = next_run.time_since_epoch();
  impl_->schedule_next.Get(schedule).Set(since_epoch.count());
}

void Metrics::OnPruned(const PruneReport& report) {
  impl_->prune_success.Set(static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count()));
  if (!report.ran) return;
  impl_->prune_seconds.Observe(report.took.count());
  impl_->pruned_log.Increment(static_cast<double>(report.log_rows));
  impl_->pruned_statistics.Increment(static_cast<double>(report.statistics_rows));
  impl_->pruned_held.Increment(static_cast<double>(report.held_jobs));
  impl_->pruned_log.Increment(static_cast<double>(report.held_log_rows));
}
void Metrics::OnPruneFailed() { impl_->prune_errors.Increment(); }

void Metrics::SetPool(const PoolStats& stats) {
  impl_->pool_active.Set(static_cast<double>(stats.active));
  impl_->pool_idle.Set(static_cast<double>(stats.idle));
  impl_->pool_pending.Set(static_cast<double>(stats.pending));
  impl_->pool_max.Set(static_cast<double>(stats.max_size));
  impl_->pool_min.Set(static_cast<double>(stats.min_size));
}

void Metrics::SetDriverHealth(bool up, bool autocommit_ok, bool isolation_ok) {
  impl_->driver_up.Set(up ? 1 : 0);
  impl_->autocommit_ok.Set(autocommit_ok ? 1 : 0);
  impl_->isolation_ok.Set(isolation_ok ? 1 : 0);
}

void Metrics::SetListenerAge(double seconds) { impl_->listener_age.Set(seconds); }

void Metrics::SetQueueDepth(const std::vector<QueueCount>& counts) {
  std::map<std::pair<std::string, std::string>, double> totals;
  for (const auto& c : counts) {
    totals[{c.entrypoint, std::string(ToString(c.status))}] += static_cast<double>(c.count);
  }
  impl_->depth.SetAll(totals);
}

void Metrics::SetQueueLag(const std::map<std::string, double>& lag_seconds) {
  for (const auto& value : impl_->lag.Values()) {
    if (!lag_seconds.contains(value)) impl_->lag.Get(value).Set(0);
  }
  for (const auto& [entrypoint, seconds] : lag_seconds) impl_->lag.Get(entrypoint).Set(seconds);
}

void Metrics::SetTableSizes(const std::vector<TableSize>& sizes,
                            std::int64_t unaggregated_log_rows) {
  for (const auto& size : sizes) {
    impl_->table_rows.Get(size.table).Set(static_cast<double>(size.estimated_rows));
    impl_->table_bytes.Get(size.table).Set(static_cast<double>(size.bytes));
  }
  impl_->unaggregated.Set(static_cast<double>(unaggregated_log_rows));
}

void Metrics::SetHeldRetention(std::chrono::seconds held_older_than) {
  impl_->held_retention.Set(static_cast<double>(held_older_than.count()));
}

void Metrics::SetHeldAges(const std::vector<HeldAge>& ages) {
  std::map<std::string, const HeldAge*> by_entrypoint;
  for (const auto& age : ages) by_entrypoint[age.entrypoint] = &age;
  // An entrypoint whose held jobs were all requeued or pruned drops to 0.
  // (How many are held is pgq_queue_depth{status="failed"}.)
  for (const auto& value : impl_->held_age.Values()) {
    if (!by_entrypoint.contains(value)) impl_->held_age.Get(value).Set(0);
  }
  for (const auto& [entrypoint, age] : by_entrypoint) {
    impl_->held_age.Get(entrypoint).Set(age->oldest_seconds);
  }
}

void Metrics::SetIndexSizes(const std::vector<IndexSize>& indexes) {
  std::map<std::pair<std::string, std::string>, double> bytes, estimated;
  for (const auto& index : indexes) {
    bytes[{index.table, index.index}] = static_cast<double>(index.bytes);
    estimated[{index.table, index.index}] = static_cast<double>(index.estimated_bytes);
  }
  impl_->index_bytes.SetAll(bytes);
  impl_->index_estimate.SetAll(estimated);
}

}  // namespace pgq::worker
