#pragma once
// The HTTP endpoints of `pgq run`: /metrics, /livez, /readyz.

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "run/readiness_monitor.h"
#include "run/run_state.h"

namespace pgq::worker {

/// The routes for HttpServer. They refer to `metrics`, `state` and
/// `readiness`, which must outlive the server.
std::map<std::string, HttpServer::Route> WorkerRoutes(const WorkerConfig& config,
                                                      const RunState& state,
                                                      const std::shared_ptr<Metrics>& metrics,
                                                      ReadinessMonitor& readiness);

}  // namespace pgq::worker
