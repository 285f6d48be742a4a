#include "cli/bench_command.h"

namespace pgq::cli {

void BenchCommand::Register(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "measure throughput, drain rate or latency (see docs/benchmarks.md)");
  bench->add_option("--strategy", options_.strategy, "throughput | drain | latency")
      ->check(CLI::IsMember({"throughput", "drain", "latency"}))
      ->capture_default_str();
  bench->add_option("-t,--time", options_.seconds, "seconds (throughput)")->capture_default_str();
  bench->add_option("--consumers", options_.consumers, "queue managers")->capture_default_str();
  bench->add_option("--batch", options_.batch, "dequeue batch size")->capture_default_str();
  bench->add_option("--handler-threads", options_.handler_threads,
                    "handler threads per consumer (0 = 2 * batch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--producers", options_.producers, "enqueuing threads (throughput)")
      ->capture_default_str();
  bench->add_option("--enqueue-batch", options_.enqueue_batch, "jobs per enqueue statement")
      ->capture_default_str();
  bench->add_option("--jobs", options_.jobs, "jobs to drain (drain)")->capture_default_str();
  bench->add_option("--driver", options_.driver, "pool | connection")
      ->check(CLI::IsMember({"pool", "connection"}))
      ->capture_default_str();
  bench->add_option("--samples", options_.latency_samples, "latency samples")->capture_default_str();
  bench->add_option("--json", options_.json_path, "also write the result to FILE");
  bench->callback([this] {
    action_ = [this] { return worker::RunBench(globals_.Dsn(), globals_.Settings(), options_); };
  });
}

}  // namespace pgq::cli
