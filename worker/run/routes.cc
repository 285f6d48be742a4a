#include "run/routes.h"

#include "run/liveness.h"

namespace pgq::worker {

std::map<std::string, HttpServer::Route> WorkerRoutes(const WorkerConfig& config,
                                                      const RunState& state,
                                                      const std::shared_ptr<Metrics>& metrics,
                                                      ReadinessMonitor& readiness) {
  return {
      {"/metrics",
       [metrics = metrics.get()] {
         return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                             metrics->Serialize()};
       }},
      {"/livez", [&config, &state] { return Livez(state, config.run.dequeue_timeout); }},
      {"/readyz", [&readiness] { return readiness.Probe(); }},
  };
}

}  // namespace pgq::worker
