#include "run.h"

#include <csignal>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "handlers/handlers.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "pgq/error.h"
#include "pgq/pgqueuer.h"
#include "pgq/pool.h"
#include "pgq/retention.h"
#include "pgq/schema.h"
#include "pgq/version.h"
#include "run_readiness.h"
#include "util/sleep.h"

namespace pgq::worker {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Counting unaggregated log rows walks a partial index; past this many the
// exact number does not matter (aggregation is far behind).
constexpr std::int64_t kUnaggregatedCap = 1'000'000;

namespace {

// %v with JSON string escaping, for the json log format.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    // dump() quotes the string; the pattern supplies the quotes itself.
    dest.append(escaped.data() + 1, escaped.data() + escaped.size() - 1);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// How long /readyz waits for a fresh check before it answers from the last
// one (below the chart's 2 s probe timeout).
constexpr auto kProbeWait = 1s;
// How often a worker waiting for its schema checks again.
constexpr auto kSchemaRecheck = 5s;

// A failing readiness reason names the endpoint it went through.
std::string EndpointReason(std::string_view endpoint, const std::string& reason) {
  if (endpoint == kPoolEndpoint) return "pool endpoint (database): " + reason;
  if (endpoint == kListenerEndpoint) return "listener endpoint (database.listener): " + reason;
  return reason;
}

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

class Worker {
 public:
  explicit Worker(const WorkerConfig& config)
      : config_(config),
        metrics_(std::make_shared<Metrics>(std::string(Version()),
                                           config.database.listener.has_value())) {}

  int Run();

 private:
  HttpResponse Livez();
  Readiness CheckReadiness();
  void Sample(const std::stop_token& token);
  bool OpenPool(const std::stop_token& stop);
  bool WaitForSchema(const std::stop_token& stop);
  void SetStartupProblem(const char* check, std::string problem);
  // Where the LISTEN connection goes: its own endpoint when database.listener is set.
  std::string_view ListenerEndpoint() const {
    return config_.database.listener ? kListenerEndpoint : kPoolEndpoint;
  }

  const WorkerConfig& config_;
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<ConnectionPool> pool_;
  std::unique_ptr<PgQueuer> queuer_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> started_{false};
  // Why the worker is not consuming yet (guarded by mu_): the readiness
  // check's name and reason.
  std::string startup_check_ = "startup";
  std::string startup_problem_ = "starting";
  std::mutex mu_;
  // Held for a whole readiness round; timed, so that a round trip stuck on a
  // partitioned connection makes later probes fail fast instead of queueing.
  std::timed_mutex readiness_mu_;
  SteadyClock::time_point schema_checked_{};
  std::string schema_problem_;
  std::stop_source stop_;
  std::unique_ptr<ReadinessMonitor> readiness_;
};

HttpResponse Worker::Livez() {
  // Liveness never touches the database: a database outage must not restart
  // the whole fleet. It fails only when the claim loop stopped turning.
  if (!started_ || draining_) return {200, "text/plain; charset=utf-8", "ok\n"};
  const auto health = queuer_->queue_manager().Health();
  const auto stalled = SteadyClock::now() - health.last_loop;
  const auto limit = std::max<std::chrono::milliseconds>(config_.run.dequeue_timeout * 3, 60s);
  if (health.running && stalled > limit) {
    return {503, "text/plain; charset=utf-8",
            "claim loop has not turned for " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stalled).count()) +
                " s\n"};
  }
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

Readiness Worker::CheckReadiness() {
  Readiness r;
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  bool all = true;
  // `endpoint`: the connections the check went through ("pool" or "listener",
  // as the metrics' endpoint label); a failing reason starts with its name.
  auto add = [&](const char* name, bool ok, const std::string& reason,
                 std::string_view endpoint = {}) {
    nlohmann::ordered_json check;
    check["name"] = name;
    check["ok"] = ok;
    if (!endpoint.empty()) check["endpoint"] = endpoint;
    if (!ok) check["reason"] = EndpointReason(endpoint, reason);
    checks.push_back(check);
    all = all && ok;
  };
  auto add_listener = [&](const RuntimeHealth& health) {
    add("listener", health.listener_up,
        health.listener_problem.empty() ? "listener is down" : health.listener_problem,
        ListenerEndpoint());
  };
  std::unique_lock lock(readiness_mu_, std::defer_lock);
  if (!lock.try_lock_for(2s)) {
    // The previous round is stuck in a round trip (a connection that neither
    // answers nor fails, as in a network partition): not ready.
    add("database", false, "a readiness round trip has not returned for more than 2 s");
    if (started_) add_listener(queuer_->queue_manager().Health());
    r.ok = false;
    r.body["status"] = "not ready";
    r.body["checks"] = checks;
    return r;
  }
  bool autocommit_ok = true, isolation_ok = true, db_up = false;
  if (draining_) add("draining", false, "the worker is shutting down");
  if (!started_) {
    std::string check, problem;
    {
      std::scoped_lock l(mu_);
      check = startup_check_;
      problem = startup_problem_;
    }
    add(check.c_str(), false, problem, check == "database" ? kPoolEndpoint : "");
  } else {
    // 1. Idle connections: one round trip each (transaction block, isolation).
    std::string pool_reason;
    for (const auto& check : pool_->CheckIdle()) {
      if (!check.ok) {
        pool_reason += (pool_reason.empty() ? "" : "; ") + check.reason;
        if (check.reason.find("transaction block") != std::string::npos) autocommit_ok = false;
        if (check.reason.find("isolation") != std::string::npos) isolation_ok = false;
      }
    }
    // Violations the pool caught on return within the last check interval.
    if (auto violation = pool_->LastViolation();
        violation && SteadyClock::now() - violation->when < config_.pool.health_check_interval) {
      pool_reason += (pool_reason.empty() ? "" : "; ") + violation->what;
      if (violation->what.find("transaction block") != std::string::npos) autocommit_ok = false;
      if (violation->what.find("isolation") != std::string::npos) isolation_ok = false;
    }
    add("pooled_connections", pool_reason.empty(), pool_reason, kPoolEndpoint);

    // 2. A connection can be leased, and new connections would start at the
    //    expected isolation (database/role defaults set since we connected).
    std::string lease_reason;
    try {
      auto lease = pool_->Acquire();
      auto rows = lease.Fetch(
          "SELECT COALESCE((SELECT substring(c FROM '^default_transaction_isolation=(.*)$') "
          "FROM pg_db_role_setting s, unnest(s.setconfig) AS c "
          "WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = "
          "current_database())) AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = "
          "current_user)) AND c LIKE 'default_transaction_isolation=%' "
          "ORDER BY s.setrole DESC, s.setdatabase DESC LIMIT 1), '') AS configured");
      db_up = true;
      const std::string configured = rows.Text(0, "configured");
      if (!configured.empty() && configured != config_.Connection().requirements.isolation) {
        isolation_ok = false;
        lease_reason = "new connections would start at isolation \"" + configured +
                       "\" (ALTER DATABASE/ROLE ... SET default_transaction_isolation); the "
                       "queue requires \"" +
                       config_.Connection().requirements.isolation + "\"";
      }
    } catch (const std::exception& e) {
      lease_reason = std::string("cannot lease a connection: ") + e.what();
      if (dynamic_cast<const ConnectionStateError*>(&e)) isolation_ok = false;
    }
    add("lease", lease_reason.empty(), lease_reason, kPoolEndpoint);

    // 3. The listener is connected and LISTENing (health-check round trip).
    add_listener(queuer_->queue_manager().Health());

    // 4. The schema verifies (cached for a minute; catalog queries).
    if (db_up && SteadyClock::now() - schema_checked_ > 60s) {
      try {
        const auto report = Schema(config_.settings).VerifyForWorker(queuer_->driver());
        schema_problem_.clear();
        for (const auto& d : report.differences) {
          schema_problem_ += (schema_problem_.empty() ? "" : "; ") + d;
        }
        schema_checked_ = SteadyClock::now();
      } catch (const std::exception& e) {
        schema_problem_ = std::string("cannot verify the schema: ") + e.what();
      }
    }
    add("schema", schema_problem_.empty(), schema_problem_);
  }
  metrics_->SetDriverHealth(db_up, autocommit_ok, isolation_ok);
  r.ok = all;
  r.body["status"] = all ? "ready" : "not ready";
  r.body["checks"] = checks;
  return r;
}

void Worker::Sample(const std::stop_token& token) {
  auto next_depth = SteadyClock::now();
  auto next_sizes = SteadyClock::now();
  while (!token.stop_requested()) {
    if (started_) {
      metrics_->SetPool(pool_->Stats());
      const auto health = queuer_->queue_manager().Health();
      metrics_->SetListenerAge(health.last_event_age_seconds);
      const auto now = SteadyClock::now();
      if (now >= next_depth) {
        // Depth and lag are sampled (not computed per scrape): one GROUP BY
        // and one indexed MIN per 15 s whatever the scrape rate.
        next_depth = now + 15s;
        try {
          auto& queries = queuer_->queue_manager().queries();
          metrics_->SetQueueDepth(queries.QueueSize());
          std::map<std::string, double> lag;
          for (const auto& [entrypoint, seconds] : queries.QueueLag()) lag[entrypoint] = seconds;
          metrics_->SetQueueLag(lag);
        } catch (const std::exception& e) {
          spdlog::warn("sampling queue metrics failed: {}", e.what());
        }
      }
      if (now >= next_sizes) {
        // Table sizes: catalog lookups, plus a count over the log's partial
        // index of unaggregated rows (capped), once a minute.
        next_sizes = now + 60s;
        try {
          RetentionQueries retention(queuer_->driver(), config_.settings);
          metrics_->SetTableSizes(retention.TableSizes(),
                                  retention.UnaggregatedLogRows(kUnaggregatedCap));
        } catch (const std::exception& e) {
          spdlog::warn("sampling table sizes failed: {}", e.what());
        }
      }
    }
    SleepUnlessStopped(1s, token);
  }
}

void Worker::SetStartupProblem(const char* check, std::string problem) {
  std::scoped_lock lock(mu_);
  startup_check_ = check;
  startup_problem_ = std::move(problem);
}

bool Worker::OpenPool(const std::stop_token& stop) {
  auto backoff = 1s;
  std::string logged;
  while (!stop.stop_requested()) {
    try {
      auto options = config_.Connection();
      options.observer = metrics_;
      pool_ = ConnectionPool::Create(options, config_.pool, metrics_);
      if (!logged.empty()) spdlog::info("connected to the database");
      return true;
    } catch (const LogicError&) {
      throw;
    } catch (const std::exception& e) {
      // A database that is down or misconfigured at start is retried, not
      // fatal: the worker stays alive (livez 200) and not ready (readyz 503).
      std::string problem = std::string("cannot open the pool: ") + e.what();
      if (problem != logged) {
        spdlog::warn("{} (retrying with backoff up to 30 s)", problem);
        logged = problem;
      }
      SetStartupProblem("database", std::move(problem));
      SleepUnlessStopped(backoff, stop);
      backoff = std::min(backoff * 2, std::chrono::seconds(30));
    }
  }
  return false;
}

bool Worker::WaitForSchema(const std::stop_token& stop) {
  // A missing or old schema (a first install whose migration has not run
  // yet, a database restored from an old dump) is waited out, not fatal.
  PoolDriver db(pool_);
  const Schema schema(config_.settings);
  std::string logged;
  while (!stop.stop_requested()) {
    std::string problem;
    try {
      const auto report = schema.VerifyForWorker(db);
      if (report.ok()) {
        if (!logged.empty()) spdlog::info("the queue schema verifies; starting to consume");
        return true;
      }
      problem = JoinReasons(report.differences);
    } catch (const std::exception& e) {
      problem = std::string("cannot verify the schema: ") + e.what();
    }
    if (problem != logged) {
      spdlog::warn("not consuming until the queue schema verifies (checking every {} s): {}",
                   kSchemaRecheck.count(), problem);
      logged = problem;
    }
    SetStartupProblem("schema", std::move(problem));
    SleepUnlessStopped(kSchemaRecheck, stop);
  }
  return false;
}

int Worker::Run() {
  spdlog::info("pgq {} starting; configuration from {}:\n{}", Version(), config_.file,
               config_.Masked());

  // Signals go to a dedicated thread (handlers in normal context). The first
  // SIGTERM/SIGINT drains; a second one exits at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::jthread signal_thread([this, signals](std::stop_token token) {
    int received = 0;
    while (!token.stop_requested()) {
      if (sigwait(&signals, &received) != 0) continue;
      if (token.stop_requested()) return;
      if (draining_.exchange(true)) {
        spdlog::warn("second signal {}: exiting now", received);
        spdlog::shutdown();
        _exit(1);
      }
      spdlog::info("signal {}: draining (not ready, no new claims, finishing in-flight jobs)",
                   received);
      stop_.request_stop();
      std::scoped_lock lock(mu_);
      if (queuer_) queuer_->Stop();
    }
  });
  auto release_signal_thread = [&] {
    signal_thread.request_stop();
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  };

  readiness_ = std::make_unique<ReadinessMonitor>([this] { return CheckReadiness(); },
                                                   config_.pool.health_check_interval, kProbeWait);
  // Every configured entrypoint's and schedule's series exist (at 0) from the
  // first scrape on.
  {
    std::vector<std::string> entrypoints, schedules;
    for (const auto& e : config_.entrypoints) entrypoints.push_back(e.name);
    for (const auto& s : config_.schedules) schedules.push_back(s.name);
    metrics_->Prepare(entrypoints, schedules);
  }
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(
        config_.http.address, config_.http.port,
        std::map<std::string, HttpServer::Route>{
            {"/metrics",
             [this] {
               return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                   metrics_->Serialize()};
             }},
            {"/livez", [this] { return Livez(); }},
            {"/readyz", [this] { return readiness_->Probe(); }},
        });
    spdlog::info("serving /metrics /livez /readyz on {}:{}", config_.http.address, http->port());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    release_signal_thread();
    return 1;
  }

  int exit_code = 0;
  std::jthread sampler;
  try {
    if (!OpenPool(stop_.get_token()) || !WaitForSchema(stop_.get_token())) {
      http.reset();
      readiness_.reset();
      release_signal_thread();
      return 0;  // stopped while waiting for the database or the schema
    }
    HandlerDeps deps{pool_};
    {
      std::scoped_lock lock(mu_);
      // LISTEN may go to its own endpoint (database.listener), e.g. straight to
      // PostgreSQL while statements go through a transaction-mode PgBouncer.
      auto listener = config_.ListenerConnection();
      if (listener) listener->observer = std::make_shared<ListenerEndpointObserver>(metrics_);
      queuer_ = PgQueuer::FromDriver(std::make_unique<PoolDriver>(pool_, std::move(listener)),
                                     config_.settings.channel, nullptr, config_.settings,
                                     metrics_);
      for (const auto& e : config_.entrypoints) {
        queuer_->Entrypoint(e.name, MakeHandler(e.handler, deps), e.options);
      }
      for (const auto& s : config_.schedules) {
        queuer_->Schedule(s.name, s.cron, MakeScheduleHandler(s.handler, deps), s.clean_old);
      }
      if (draining_) queuer_->Stop();
    }
    started_ = true;
    sampler = std::jthread([this](std::stop_token token) { Sample(token); });
    RunOptions run = config_.run;
    run.shutdown_grace = config_.shutdown_grace;
    queuer_->Run(run);
    spdlog::info("worker stopped cleanly");
  } catch (const std::exception& e) {
    spdlog::error("worker failed: {}", e.what());
    exit_code = 1;
  }
  draining_ = true;
  if (sampler.joinable()) {
    sampler.request_stop();
    sampler.join();
  }
  http.reset();
  readiness_.reset();
  release_signal_thread();
  return exit_code;
}

}  // namespace

void SetupLogging(const LoggingConfig& logging) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("pgq", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (logging.json) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","thread":%t,"msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %-5l [%n] %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(logging.level));
  spdlog::set_default_logger(logger);
  if (const char* level = std::getenv("PGQ_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  spdlog::flush_on(spdlog::level::info);
}

int RunWorker(const WorkerConfig& config) {
  Worker worker(config);
  return worker.Run();
}

}  // namespace pgq::worker
