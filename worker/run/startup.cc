#include "run/startup.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "pgq/error.h"
#include "pgq/schema.h"
#include "util/sleep.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using namespace std::chrono_literals;

// How often a worker waiting for its schema checks again.
constexpr auto kSchemaRecheck = 5s;

}  // namespace

std::shared_ptr<ConnectionPool> OpenPool(const WorkerConfig& config,
                                         const std::shared_ptr<Metrics>& metrics,
                                         RunState& state, const std::stop_token& stop) {
  auto backoff = 1s;
  std::string logged;
  while (!stop.stop_requested()) {
    try {
      auto options = config.Connection();
      options.observer = metrics;
      auto pool = ConnectionPool::Create(options, config.pool, metrics);
      if (!logged.empty()) spdlog::info("connected to the database");
      return pool;
    } catch (const LogicError&) {
      throw;
    } catch (const std::exception& e) {
      // A database that is down or misconfigured at start is retried, not
      // fatal: the worker stays alive (livez 200) and not ready (readyz 503).
      // Only a standby answering (a failover in progress, an address not yet
      // moved to the new primary) is retried every second: a promotion is
      // seconds away, and asking a standby costs it little.
      const bool read_only = dynamic_cast<const ReadOnlyError*>(&e) != nullptr;
      std::string problem = std::string("cannot open the pool: ") + e.what();
      if (problem != logged) {
        spdlog::warn("{} (retrying {})", problem,
                     read_only ? "every second" : "with backoff up to 30 s");
        logged = problem;
      }
      state.SetStartupProblem("database", std::move(problem));
      if (read_only) backoff = 1s;
      SleepUnlessStopped(backoff, stop);
      backoff = read_only ? 1s : std::min(backoff * 2, std::chrono::seconds(30));
    }
  }
  return nullptr;
}

SchemaWait WaitForSchema(const WorkerConfig& config, const std::shared_ptr<ConnectionPool>& pool,
                   RunState& state, const std::stop_token& stop) {
  // A missing or old schema (a first install whose migration has not run
  // yet, a database restored from an old dump) is waited out, not fatal.
  PoolDriver db(pool);
  const Schema schema(config.settings);
  std::string logged;
  while (!stop.stop_requested()) {
    std::string problem;
    try {
      const auto report = schema.VerifyForWorker(db);
      if (report.ok()) {
        if (!logged.empty()) spdlog::info("the queue schema verifies; starting to consume");
        return SchemaWait::kReady;
      }
      if (report.incompatible()) {
        problem = JoinReasons(report.differences);
        spdlog::error("{}", problem);
        state.SetStartupProblem("schema", std::move(problem));
        return SchemaWait::kIncompatible;
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
    state.SetStartupProblem("schema", std::move(problem));
    SleepUnlessStopped(kSchemaRecheck, stop);
  }
  return SchemaWait::kStopped;
}

}  // namespace pgq::worker
