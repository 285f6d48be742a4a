#include "cli/bench_command.h"

namespace pgq::cli {

void BenchCommand::Register(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "measure throughput, drain rate, latency or producers (see docs/benchmarks.md)");
  bench->add_option("--strategy", options_.strategy, "throughput | drain | latency | enqueue")
      ->check(CLI::IsMember({"throughput", "drain", "latency", "enqueue"}))
      ->capture_default_str();
  bench->add_option("-t,--time", options_.seconds, "seconds (throughput)")->capture_default_str();
  bench->add_option("--consumers", options_.consumers, "queue managers")->capture_default_str();
  bench->add_option("--batch", options_.batch, "dequeue batch size")->capture_default_str();
  bench->add_option("--handler-threads", options_.handler_threads,
                    "handler threads per consumer (0 = 2 * batch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--producers", options_.producers, "enqueuing threads (throughput, enqueue)")
      ->capture_default_str();
  bench->add_option("--producer", options_.producer, "producers to measure (enqueue)")
      ->check(CLI::IsMember({"per-call", "batching", "both"}))
      ->capture_default_str();
  bench->add_option("--flushers", options_.flushers,
                    "batching producer's flushers (enqueue; default: the library's)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--max-delay-ms", options_.max_delay_ms,
                    "batching producer's max_delay (enqueue; default: the library's)")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--flush-when-idle", options_.flush_when_idle,
                    "batching producer's flush_when_idle, true|false (enqueue; default: the library's)");
  bench->add_option("--max-batch", options_.max_batch,
                    "batching producer's max_batch (enqueue; default: the library's)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--outstanding", options_.outstanding,
                    "enqueue calls each thread keeps in flight before waiting for their ids "
                    "(enqueue, batching producer)")
      ->check(CLI::PositiveNumber)
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
