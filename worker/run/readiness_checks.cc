#include "run/readiness_checks.h"

#include <string>
#include <utility>

#include "pgq/schema.h"

namespace pgq::worker {

using namespace std::chrono_literals;

ReadinessChecks::ReadinessChecks(const WorkerConfig& config, const RunState& state,
                                 std::shared_ptr<Metrics> metrics)
    : config_(config), state_(state), metrics_(std::move(metrics)) {}

std::string_view ReadinessChecks::ListenerEndpoint() const {
  return config_.database.listener ? kListenerEndpoint : kPoolEndpoint;
}

Readiness ReadinessChecks::Run() {
  ReadinessReport report;
  std::unique_lock lock(round_mu_, std::defer_lock);
  if (!lock.try_lock_for(2s)) {
    // The previous round is stuck in a round trip (a connection that neither
    // answers nor fails, as in a network partition): not ready.
    report.Add({"database", {}, {{Problem::Kind::kOther,
                                  "a readiness round trip has not returned for more than 2 s"}}});
    if (state_.started()) report.Add(Listener());
    return report.ToReadiness();
  }
  bool database_up = false;
  if (state_.draining()) {
    report.Add({"draining", {}, {{Problem::Kind::kOther, "the worker is shutting down"}}});
  }
  if (!state_.started()) {
    auto startup = state_.startup_problem();
    const std::string_view endpoint = startup.check == "database" ? kPoolEndpoint : "";
    report.Add({std::move(startup.check), endpoint,
                {{Problem::Kind::kOther, std::move(startup.reason)}}});
  } else {
    report.Add(PooledConnections());
    report.Add(Lease(database_up));
    report.Add(Listener());
    report.Add(SchemaCheck(database_up));
  }
  metrics_->SetDriverHealth(database_up, !report.Has(Problem::Kind::kInTransaction),
                            !report.Has(Problem::Kind::kIsolation));
  return report.ToReadiness();
}

CheckResult ReadinessChecks::PooledConnections() {
  CheckResult check{"pooled_connections", kPoolEndpoint, {}};
  // Idle connections: one round trip each (transaction block, isolation).
  for (const auto& idle : state_.pool().CheckIdle()) {
    if (idle.ok) continue;
    check.problems.push_back(
        {idle.violated ? ProblemKindOf(*idle.violated) : Problem::Kind::kConnectionFailed,
         idle.reason});
  }
  // Violations the pool caught on return within the last check interval.
  if (auto violation = state_.pool().LastViolation();
      violation && SteadyClock::now() - violation->when < config_.pool.health_check_interval) {
    check.problems.push_back({ProblemKindOf(violation->kind), violation->what});
  }
  return check;
}

CheckResult ReadinessChecks::Lease(bool& database_up) {
  // A connection can be leased, and new connections would start at the
  // expected isolation (database/role defaults set since we connected).
  CheckResult check{"lease", kPoolEndpoint, {}};
  try {
    auto& queries = state_.queuer().queue_manager().queries();
    const auto configured = queries.DefaultIsolationSetting();
    database_up = true;
    // A standby answers every SELECT: only asking tells that it would
    // refuse every claim and completion.
    if (auto read_only = queries.ReadOnlyReason()) {
      check.problems.push_back({Problem::Kind::kReadOnly, std::move(*read_only)});
    }
    const std::string required = config_.Connection().requirements.isolation;
    if (configured && *configured != required) {
      check.problems.push_back(
          {Problem::Kind::kIsolation,
           "new connections would start at isolation \"" + *configured +
               "\" (ALTER DATABASE/ROLE ... SET default_transaction_isolation); the queue "
               "requires \"" + required + "\""});
    }
  } catch (const ConnectionStateError& e) {
    check.problems.push_back(
        {ProblemKindOf(e.kind()), std::string("cannot lease a connection: ") + e.what()});
  } catch (const ReadOnlyError& e) {
    check.problems.push_back(
        {Problem::Kind::kReadOnly, std::string("cannot lease a connection: ") + e.what()});
  } catch (const std::exception& e) {
    check.problems.push_back(
        {Problem::Kind::kConnectionFailed, std::string("cannot lease a connection: ") + e.what()});
  }
  return check;
}

CheckResult ReadinessChecks::Listener() {
  // Connected and LISTENing (the runtime's health-check round trip).
  const auto health = state_.queuer().queue_manager().Health();
  CheckResult check{"listener", ListenerEndpoint(), {}};
  if (!health.listener_up) {
    check.problems.push_back({Problem::Kind::kOther, health.listener_problem.empty()
                                                         ? "listener is down"
                                                         : health.listener_problem});
  }
  return check;
}

CheckResult ReadinessChecks::SchemaCheck(bool database_up) {
  // Catalog queries: verified at most once a minute, the verdict kept.
  if (database_up && SteadyClock::now() - schema_checked_ > 60s) {
    try {
      const auto verified = Schema(config_.settings).VerifyForWorker(state_.queuer().driver());
      schema_problems_.clear();
      for (const auto& difference : verified.differences) {
        schema_problems_.push_back({Problem::Kind::kOther, difference});
      }
      schema_checked_ = SteadyClock::now();
    } catch (const std::exception& e) {
      schema_problems_ = {{Problem::Kind::kOther,
                           std::string("cannot verify the schema: ") + e.what()}};
    }
  }
  return {"schema", {}, schema_problems_};
}

}  // namespace pgq::worker
