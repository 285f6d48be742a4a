#include "run/metric_sampler.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "pgq/index_maintenance.h"
#include "pgq/retention.h"
#include "util/sleep.h"

namespace pgq::worker {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Counting unaggregated log rows walks a partial index; past this many the
// exact number does not matter (aggregation is far behind).
constexpr std::int64_t kUnaggregatedCap = 1'000'000;

}  // namespace

MetricSampler::MetricSampler(const WorkerConfig& config, const RunState& state,
                             std::shared_ptr<Metrics> metrics)
    : config_(config),
      state_(state),
      metrics_(std::move(metrics)),
      thread_([this](std::stop_token stop) { Loop(stop); }) {}

void MetricSampler::Loop(const std::stop_token& stop) {
  auto next_depth = SteadyClock::now();
  auto next_sizes = SteadyClock::now();
  while (!stop.stop_requested()) {
    if (state_.started()) {
      metrics_->SetPool(state_.pool().Stats());
      metrics_->SetListenerAge(state_.queuer().queue_manager().Health().last_event_age_seconds);
      const auto now = SteadyClock::now();
      if (now >= next_depth) {
        // One GROUP BY and one indexed MIN per 15 s whatever the scrape rate.
        next_depth = now + 15s;
        SampleQueue();
      }
      if (now >= next_sizes) {
        // Catalog lookups, a capped count over the log's partial index of
        // unaggregated rows and a GROUP BY of the held jobs, once a minute.
        next_sizes = now + 60s;
        SampleTables();
      }
    }
    SleepUnlessStopped(1s, stop);
  }
}

void MetricSampler::SampleQueue() {
  try {
    auto& queries = state_.queuer().queue_manager().queries();
    metrics_->SetQueueDepth(queries.QueueSize());
    std::map<std::string, double> lag;
    for (const auto& [entrypoint, seconds] : queries.QueueLag()) lag[entrypoint] = seconds;
    metrics_->SetQueueLag(lag);
  } catch (const std::exception& e) {
    spdlog::warn("sampling queue metrics failed: {}", e.what());
  }
}

void MetricSampler::SampleTables() {
  try {
    RetentionQueries retention(state_.queuer().driver(), config_.settings);
    metrics_->SetTableSizes(retention.TableSizes(),
                            retention.UnaggregatedLogRows(kUnaggregatedCap));
    metrics_->SetHeldAges(retention.HeldAges());
    metrics_->SetIndexSizes(IndexMaintenance(state_.queuer().driver(), config_.settings).Indexes());
  } catch (const std::exception& e) {
    spdlog::warn("sampling table sizes failed: {}", e.what());
  }
}

}  // namespace pgq::worker
