#include "run/worker.h"

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "handlers/handlers.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "pgq/pgqueuer.h"
#include "pgq/pool.h"
#include "pgq/version.h"
#include "run/metric_sampler.h"
#include "run/readiness_checks.h"
#include "run/readiness_monitor.h"
#include "run/routes.h"
#include "run/run_state.h"
#include "run/signal_watcher.h"
#include "run/startup.h"

namespace pgq::worker {
namespace {

using namespace std::chrono_literals;

// How long /readyz waits for a fresh check before it answers from the last
// one (below the chart's 2 s probe timeout).
constexpr auto kProbeWait = 1s;

// The process's lifecycle: signals, probes, start-up, consuming, draining.
// The parts are locals of Run(), declared in the order that makes their
// teardown safe (the HTTP server goes before what its routes use).
class Worker {
 public:
  explicit Worker(const WorkerConfig& config)
      : config_(config),
        metrics_(std::make_shared<Metrics>(std::string(Version()),
                                           config.database.listener.has_value())) {}

  int Run();

 private:
  std::unique_ptr<PgQueuer> BuildConsumer(const std::shared_ptr<ConnectionPool>& pool);

  const WorkerConfig& config_;
  std::shared_ptr<Metrics> metrics_;
  RunState state_;
  std::stop_source stop_;  // start-up waits end when a drain begins
};

std::unique_ptr<PgQueuer> Worker::BuildConsumer(const std::shared_ptr<ConnectionPool>& pool) {
  HandlerDeps deps{pool};
  // LISTEN may go to its own endpoint (database.listener), e.g. straight to
  // PostgreSQL while statements go through a transaction-mode PgBouncer.
  auto listener = config_.ListenerConnection();
  if (listener) listener->observer = std::make_shared<ListenerEndpointObserver>(metrics_);
  auto queuer = PgQueuer::FromDriver(std::make_unique<PoolDriver>(pool, std::move(listener)),
                                     config_.settings.channel, nullptr, config_.settings,
                                     metrics_);
  for (const auto& e : config_.entrypoints) {
    queuer->Entrypoint(e.name, MakeHandler(e.handler, deps), e.options);
  }
  for (const auto& s : config_.schedules) {
    queuer->Schedule(s.name, s.cron, MakeScheduleHandler(s.handler, deps), s.clean_old);
  }
  return queuer;
}

int Worker::Run() {
  spdlog::info("pgq {} starting; configuration from {}:\n{}", Version(), config_.file,
               config_.Masked());
  // First, so that every thread started below inherits the blocked signals.
  // The first SIGTERM/SIGINT drains; a second one exits at once.
  const SignalWatcher signals(state_, [this] {
    stop_.request_stop();
    state_.StopConsumer();
  });

  ReadinessChecks checks(config_, state_, metrics_);
  auto readiness = std::make_unique<ReadinessMonitor>([&checks] { return checks.Run(); },
                                                      config_.pool.health_check_interval,
                                                      kProbeWait);
  // Every configured entrypoint's and schedule's series exist (at 0) from the
  // first scrape on.
  {
    std::vector<std::string> entrypoints, schedules;
    for (const auto& e : config_.entrypoints) entrypoints.push_back(e.name);
    for (const auto& s : config_.schedules) schedules.push_back(s.name);
    metrics_->Prepare(entrypoints, schedules);
    metrics_->SetHeldRetention(config_.run.retention.held_older_than);
  }
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(config_.http.address, config_.http.port,
                                        WorkerRoutes(config_, state_, metrics_, *readiness));
    spdlog::info("serving /metrics /livez /readyz on {}:{}", config_.http.address, http->port());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  int exit_code = 0;
  std::unique_ptr<MetricSampler> sampler;
  try {
    auto pool = OpenPool(config_, metrics_, state_, stop_.get_token());
    const auto schema =
        pool ? WaitForSchema(config_, pool, state_, stop_.get_token()) : SchemaWait::kStopped;
    if (schema != SchemaWait::kReady) {
      http.reset();
      readiness.reset();
      // Stopped while waiting for the database or the schema: 0. A schema
      // pgq does not speak: 2, like any configuration pgq refuses.
      return schema == SchemaWait::kIncompatible ? 2 : 0;
    }
    state_.Start(pool, BuildConsumer(pool));
    sampler = std::make_unique<MetricSampler>(config_, state_, metrics_);
    RunOptions run = config_.run;
    run.shutdown_grace = config_.shutdown_grace;
    state_.queuer().Run(run);
    spdlog::info("worker stopped cleanly");
  } catch (const std::exception& e) {
    spdlog::error("worker failed: {}", e.what());
    exit_code = 1;
  }
  state_.BeginDrain();
  sampler.reset();
  http.reset();
  readiness.reset();
  return exit_code;
}

}  // namespace

int RunWorker(const WorkerConfig& config) {
  Worker worker(config);
  return worker.Run();
}

}  // namespace pgq::worker
