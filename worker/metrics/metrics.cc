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

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  Family<Gauge>& pool_connections = BuildGauge()
                                        .Name("pgq_pool_connections")
                                        .Help("Open pooled connections by state")
                                        .Register(*registry);
  Gauge& pool_active = pool_connections.Add({{"state", "active"}});
  Gauge& pool_idle = pool_connections.Add({{"state", "idle"}});
  Gauge& pool_max = BuildGauge()
                        .Name("pgq_pool_connections_max")
                        .Help("Configured maximum pool size (includes the LISTEN connection)")
                        .Register(*registry)
                        .Add({});
  Gauge& pool_min = BuildGauge()
                        .Name("pgq_pool_connections_min")
                        .Help("Configured minimum pool size")
                        .Register(*registry)
                        .Add({});
  Gauge& pool_pending = BuildGauge()
                            .Name("pgq_pool_pending_acquires")
                            .Help("Callers waiting for a pooled connection")
                            .Register(*registry)
                            .Add({});
  Histogram& acquire_seconds = BuildHistogram()
                                   .Name("pgq_pool_acquire_seconds")
                                   .Help("Time to lease a pooled connection")
                                   .Register(*registry)
                                   .Add({}, kFastSeconds);
  Histogram& usage_seconds = BuildHistogram()
                                 .Name("pgq_pool_usage_seconds")
                                 .Help("How long a lease held its connection")
                                 .Register(*registry)
                                 .Add({}, kFastSeconds);
  Counter& acquire_timeouts = BuildCounter()
                                  .Name("pgq_pool_acquire_timeouts_total")
                                  .Help("Acquires that gave up after acquire_timeout")
                                  .Register(*registry)
                                  .Add({});
  Counter& created = BuildCounter()
                         .Name("pgq_pool_connections_created_total")
                         .Help("Connections opened by the pool")
                         .Register(*registry)
                         .Add({});
  Family<Counter>& closed_family = BuildCounter()
                                       .Name("pgq_pool_connections_closed_total")
                                       .Help("Connections closed by the pool, by reason")
                                       .Register(*registry);
  Children<Counter> closed{closed_family, "reason"};

  Gauge& driver_up = BuildGauge()
                         .Name("pgq_driver_up")
                         .Help("1 when the database answered the last check")
                         .Register(*registry)
                         .Add({});
  Gauge& autocommit_ok = BuildGauge()
                             .Name("pgq_driver_autocommit_ok")
                             .Help("1 when no pooled connection is inside a transaction block")
                             .Register(*registry)
                             .Add({});
  Gauge& isolation_ok = BuildGauge()
                            .Name("pgq_driver_isolation_ok")
                            .Help("1 when connections run at the expected isolation level")
                            .Register(*registry)
                            .Add({});
  Counter& reconnects = BuildCounter()
                            .Name("pgq_driver_reconnects_total")
                            .Help("Connections re-opened after a failure")
                            .Register(*registry)
                            .Add({});
  Family<Counter>& errors_family = BuildCounter()
                                       .Name("pgq_driver_errors_total")
                                       .Help("Driver errors by kind")
                                       .Register(*registry);
  Children<Counter> errors{errors_family, "kind"};
  Gauge& listener_up = BuildGauge()
                           .Name("pgq_listener_up")
                           .Help("1 when the LISTEN connection passed its last health check")
                           .Register(*registry)
                           .Add({});
  Family<Counter>& notifications_family = BuildCounter()
                                              .Name("pgq_notifications_total")
                                              .Help("Notifications received, by event type")
                                              .Register(*registry);
  Children<Counter> notifications{notifications_family, "type"};
  Gauge& listener_age = BuildGauge()
                            .Name("pgq_listener_last_event_age_seconds")
                            .Help("Seconds since the last notification of any kind")
                            .Register(*registry)
                            .Add({});

  Family<Counter>& jobs_family = BuildCounter()
                                     .Name("pgq_jobs_total")
                                     .Help("Finished jobs by entrypoint and outcome")
                                     .Register(*registry);
  std::mutex jobs_mu;
  std::map<std::pair<std::string, std::string>, Counter*> jobs;  // guarded by jobs_mu
  Family<Histogram>& duration_family = BuildHistogram()
                                           .Name("pgq_job_duration_seconds")
                                           .Help("Handler run time")
                                           .Register(*registry);
  Children<Histogram, Histogram::BucketBoundaries> duration{duration_family, "entrypoint",
                                                            kJobSeconds};
  Family<Histogram>& wait_family = BuildHistogram()
                                       .Name("pgq_job_wait_seconds")
                                       .Help("Time from enqueue to handler start")
                                       .Register(*registry);
  Children<Histogram, Histogram::BucketBoundaries> wait{wait_family, "entrypoint", kJobSeconds};
  Family<Gauge>& in_flight_family = BuildGauge()
                                        .Name("pgq_jobs_in_flight")
                                        .Help("Jobs running in this worker")
                                        .Register(*registry);
  Children<Gauge> in_flight{in_flight_family, "entrypoint"};
  Family<Gauge>& depth_family = BuildGauge()
                                    .Name("pgq_queue_depth")
                                    .Help("Rows in the queue table by entrypoint and status (sampled)")
                                    .Register(*registry);
  std::map<std::pair<std::string, std::string>, Gauge*> depth;  // guarded by jobs_mu
  Family<Gauge>& lag_family = BuildGauge()
                                  .Name("pgq_queue_lag_seconds")
                                  .Help("Age of the oldest eligible queued job (sampled)")
                                  .Register(*registry);
  Children<Gauge> lag{lag_family, "entrypoint"};
  Histogram& dequeue_seconds = BuildHistogram()
                                   .Name("pgq_dequeue_seconds")
                                   .Help("Time of one claim statement")
                                   .Register(*registry)
                                   .Add({}, kFastSeconds);
  Counter& rescued = BuildCounter()
                         .Name("pgq_heartbeat_rescued_total")
                         .Help("Jobs taken over from workers whose heartbeat stopped")
                         .Register(*registry)
                         .Add({});

  Family<Counter>& pruned_family = BuildCounter()
                                       .Name("pgq_pruned_rows_total")
                                       .Help("Rows this worker pruned, by table")
                                       .Register(*registry);
  Counter& pruned_log = pruned_family.Add({{"table", "log"}});
  Counter& pruned_statistics = pruned_family.Add({{"table", "statistics"}});
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
  Family<Gauge>& build_info = BuildGauge()
                                  .Name("pgq_build_info")
                                  .Help("Build information; the value is always 1")
                                  .Register(*registry);
};

Metrics::Metrics(const std::string& version) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", version}}).Set(1);
  for (const auto reason : {CloseReason::kMaxLifetime, CloseReason::kBroken,
                            CloseReason::kStateViolation, CloseReason::kShutdown,
                            CloseReason::kIdleCheckFailed}) {
    impl_->closed.Get(ToString(reason));
  }
  for (const char* kind : {"connect", "state_in_transaction", "state_isolation"}) {
    impl_->errors.Get(kind);
  }
  impl_->autocommit_ok.Set(1);
  impl_->isolation_ok.Set(1);
}

Metrics::~Metrics() = default;

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
void Metrics::OnConnectError(std::string_view kind) { impl_->errors.Get(kind).Increment(); }
void Metrics::OnReconnect() { impl_->reconnects.Increment(); }
void Metrics::OnStateViolation(bool in_transaction, bool isolation) {
  if (in_transaction) {
    impl_->errors.Get("state_in_transaction").Increment();
    impl_->autocommit_ok.Set(0);
  }
  if (isolation) {
    impl_->errors.Get("state_isolation").Increment();
    impl_->isolation_ok.Set(0);
  }
}
void Metrics::OnListenerUp(bool up) { impl_->listener_up.Set(up ? 1 : 0); }
void Metrics::OnNotification(std::string_view type) {
  impl_->notifications.Get(type).Increment();
}
void Metrics::OnJobsClaimed(std::string_view, std::size_t) {}
void Metrics::OnJobRescued(std::string_view) { impl_->rescued.Increment(); }
void Metrics::OnJobStarted(std::string_view entrypoint, std::chrono::duration<double> waited) {
  impl_->wait.Get(entrypoint).Observe(std::max(0.0, waited.count()));
  impl_->in_flight.Get(entrypoint).Increment();
}
void Metrics::OnJobFinished(std::string_view entrypoint, std::string_view outcome,
                            std::chrono::duration<double> took) {
  impl_->duration.Get(entrypoint).Observe(took.count());
  impl_->in_flight.Get(entrypoint).Decrement();
  Counter* counter = nullptr;
  {
    std::scoped_lock lock(impl_->jobs_mu);
    auto key = std::make_pair(std::string(entrypoint), std::string(outcome));
    auto it = impl_->jobs.find(key);
    if (it == impl_->jobs.end()) {
      it = impl_->jobs
               .emplace(key, &impl_->jobs_family.Add({{"entrypoint", key.first},
                                                      {"outcome", key.second}}))
               .first;
    }
    counter = it->second;
  }
  counter->Increment();
}
void Metrics::OnDequeue(std::chrono::duration<double> took) {
  impl_->dequeue_seconds.Observe(took.count());
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
  std::scoped_lock lock(impl_->jobs_mu);
  for (auto& [key, gauge] : impl_->depth) {
    if (!totals.contains(key)) gauge->Set(0);  // drained since the last sample
  }
  for (const auto& [key, value] : totals) {
    auto it = impl_->depth.find(key);
    if (it == impl_->depth.end()) {
      it = impl_->depth
               .emplace(key, &impl_->depth_family.Add({{"entrypoint", key.first},
                                                       {"status", key.second}}))
               .first;
    }
    it->second->Set(value);
  }
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

}  // namespace pgq::worker
