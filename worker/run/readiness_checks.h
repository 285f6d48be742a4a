#pragma once
// The checks behind /readyz: the pool's idle connections, a lease and what
// new connections would start at, the listener, and the queue schema.

#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "run/readiness_report.h"
#include "run/run_state.h"

namespace pgq::worker {

/// Runs one readiness round (ReadinessMonitor calls Run() on its thread)
/// and sets the driver-health gauges from the kinds of problems found.
/// Run() may be called from several threads; rounds do not overlap.
class ReadinessChecks {
 public:
  ReadinessChecks(const WorkerConfig& config, const RunState& state,
                  std::shared_ptr<Metrics> metrics);

  Readiness Run();

 private:
  using SteadyClock = std::chrono::steady_clock;
  CheckResult PooledConnections();
  /// Also says whether a leased connection answered (`database_up`).
  CheckResult Lease(bool& database_up);
  CheckResult Listener();
  CheckResult SchemaCheck(bool database_up);
  // Where the LISTEN connection goes: its own endpoint when database.listener is set.
  std::string_view ListenerEndpoint() const;

  const WorkerConfig& config_;
  const RunState& state_;
  std::shared_ptr<Metrics> metrics_;
  // Held for a whole round; timed, so that a round trip stuck on a
  // partitioned connection makes later rounds fail fast instead of queueing.
  std::timed_mutex round_mu_;
  SteadyClock::time_point schema_checked_{};  // guarded by round_mu_
  std::vector<Problem> schema_problems_;      // guarded by round_mu_
};

}  // namespace pgq::worker
