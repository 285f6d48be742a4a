#pragma once
// Gauges that cost a query (queue depth and lag, table sizes) are sampled
// on a thread of their own at fixed intervals, not computed per scrape, so
// the scrape rate does not load the database.

#include <memory>
#include <thread>

#include "config/config.h"
#include "metrics/metrics.h"
#include "run/run_state.h"

namespace pgq::worker {

/// Once a second (while `state` is started): pool counts and the listener's
/// event age; every 15 s queue depth and lag; every minute table sizes and
/// unaggregated log rows. A failed sample is logged and skipped. Stops in
/// its destructor.
class MetricSampler {
 public:
  MetricSampler(const WorkerConfig& config, const RunState& state,
                std::shared_ptr<Metrics> metrics);
  MetricSampler(const MetricSampler&) = delete;
  MetricSampler& operator=(const MetricSampler&) = delete;

 private:
  void Loop(const std::stop_token& stop);
  void SampleQueue();
  void SampleTables();

  const WorkerConfig& config_;
  const RunState& state_;
  std::shared_ptr<Metrics> metrics_;
  std::jthread thread_;  // last: joined first, before what it uses goes
};

}  // namespace pgq::worker
