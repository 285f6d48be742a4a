#pragma once
// `pgq bench`: throughput, drain and latency measurements in the shape of
// PgQueuer's benchmark tool (see docs/benchmarks.md).

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pgq/settings.h"

namespace pgq::worker {

struct BenchOptions {
  std::string strategy = "throughput";  // throughput | drain | latency | enqueue
  double seconds = 10;
  int consumers = 5;
  int batch = 10;
  /// Handler threads per consumer; 0 = the runtime's default (2 * batch).
  /// No-op handlers need only a few per core: more threads only add
  /// context switches.
  int handler_threads = 16;
  /// Enqueuing threads (throughput, enqueue).
  int producers = 1;
  /// Which producers the enqueue strategy measures: per-call | batching | both.
  std::string producer = "both";
  /// BatchingProducer settings for the enqueue strategy; unset = the
  /// library's defaults.
  std::optional<int> flushers;
  std::optional<double> max_delay_ms;
  std::optional<bool> flush_when_idle;
  std::optional<int> max_batch;
  /// Enqueue calls each thread keeps in flight before waiting for their ids
  /// (enqueue, batching producer only).
  int outstanding = 1;
  int enqueue_batch = 10;
  long jobs = 100000;
  std::string driver = "pool";  // pool | connection
  std::optional<std::string> json_path;
  int latency_samples = 200;
};

/// Runs one benchmark against an installed schema; prints progress to
/// stderr and a summary to stdout. Returns an exit code.
int RunBench(const std::string& dsn, const DBSettings& settings, const BenchOptions& options);

/// The enqueue strategy (bench/bench_enqueue.cc): adds its rows to `result`.
int RunEnqueueBench(const std::string& dsn, const DBSettings& settings,
                    const BenchOptions& options, nlohmann::ordered_json& result);

}  // namespace pgq::worker
