#include "bench/bench.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "pgq/pgqueuer.h"
#include "pgq/pool.h"
#include "pgq/queries.h"

namespace pgq::worker {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

// Latencies (enqueue → handler start) from payloads carrying the enqueue time.
class LatencyLog {
 public:
  void Add(const std::optional<std::string>& payload) {
    if (!payload || payload->empty()) return;
    const double ms = static_cast<double>(NowNs() - std::stoll(*payload)) / 1e6;
    std::scoped_lock lock(mu_);
    if (samples_.size() < 1000000) samples_.push_back(ms);
  }
  std::optional<double> Percentile(double p) {
    std::scoped_lock lock(mu_);
    if (samples_.empty()) return std::nullopt;
    std::sort(samples_.begin(), samples_.end());
    const auto index = static_cast<std::size_t>(p * static_cast<double>(samples_.size() - 1));
    return samples_[index];
  }
  std::size_t size() {
    std::scoped_lock lock(mu_);
    return samples_.size();
  }

 private:
  std::mutex mu_;
  std::vector<double> samples_;
};

// Jobs still queued, over every entrypoint (the library's queue counts).
std::int64_t QueuedJobs(Executor& executor, const DBSettings& settings) {
  std::int64_t queued = 0;
  for (const auto& row : ProducerQueries(executor, settings).QueueSize()) {
    if (row.status == JobStatus::kQueued) queued += row.count;
  }
  return queued;
}

std::unique_ptr<PgQueuer> MakeConsumer(const std::string& dsn, const DBSettings& settings,
                                       const BenchOptions& options) {
  auto connection = ConnectionOptions::FromDsn(dsn);
  if (options.driver == "connection") {
    return PgQueuer::FromDriver(std::make_unique<ConnectionDriver>(connection), std::nullopt,
                                nullptr, settings);
  }
  PoolSettings pool;
  pool.min_size = 2;
  pool.max_size = 4;
  return PgQueuer::FromPool(ConnectionPool::Create(connection, pool), std::nullopt, nullptr,
                            settings);
}

RunOptions ConsumerRunOptions(const BenchOptions& options, RunMode mode) {
  RunOptions run;
  run.mode = mode;
  run.batch_size = options.batch;
  run.handler_threads = static_cast<std::size_t>(std::max(0, options.handler_threads));
  run.dequeue_timeout = 1s;
  run.log_aggregation_interval = 0ms;
  return run;
}

void EnqueueBulk(const std::string& dsn, const DBSettings& settings, long jobs) {
  SyncDriver driver(dsn);
  ProducerQueries producer(driver, settings);
  constexpr long kChunk = 5000;
  for (long done = 0; done < jobs; done += kChunk) {
    std::vector<NewJob> batch(static_cast<std::size_t>(std::min(kChunk, jobs - done)));
    for (auto& job : batch) job.entrypoint = "bench";
    producer.Enqueue(batch);
  }
}

int PrintResult(const nlohmann::ordered_json& result, const BenchOptions& options) {
  const std::string json = result.dump();
  std::cout << json << "\n";
  if (options.json_path) std::ofstream(*options.json_path) << json << "\n";
  return 0;
}

}  // namespace

int RunBench(const std::string& dsn, const DBSettings& settings, const BenchOptions& options) {
  spdlog::set_level(spdlog::level::warn);
  nlohmann::ordered_json result;
  result["strategy"] = options.strategy;
  result["driver"] = options.driver;
  result["consumers"] = options.consumers;
  result["batch"] = options.batch;
  result["handler_threads"] = options.handler_threads;
  {
    ConnectionDriver admin(ConnectionOptions::FromDsn(dsn));
    result["pg_version"] = admin.Fetch("SHOW server_version").Text(0, "server_version");
    Queries(admin, settings).ClearQueue();
  }
  if (options.strategy == "enqueue") {
    if (const int rc = RunEnqueueBench(dsn, settings, options, result); rc != 0) return rc;
    return PrintResult(result, options);
  }
  std::atomic<long> processed{0};
  LatencyLog latency;
  std::vector<std::unique_ptr<PgQueuer>> consumers;
  const int consumer_count = options.strategy == "latency" ? 1 : options.consumers;
  for (int i = 0; i < consumer_count; ++i) {
    consumers.push_back(MakeConsumer(dsn, settings, options));
    const bool wake_producer = options.strategy == "latency";
    consumers.back()->Entrypoint("bench", [&, wake_producer](JobContext& ctx) {
      latency.Add(ctx.job.payload);
      ++processed;
      if (wake_producer) processed.notify_all();
    });
  }

  if (options.strategy == "drain") {
    std::cerr << "enqueueing " << options.jobs << " jobs ...\n";
    EnqueueBulk(dsn, settings, options.jobs);
    const auto start = SteadyClock::now();
    std::vector<std::thread> threads;
    for (auto& c : consumers) {
      threads.emplace_back([&c, &options] { c->Run(ConsumerRunOptions(options, RunMode::kDrain)); });
    }
    std::atomic<bool> done{false};
    std::thread progress([&] {
      while (!done) {
        std::this_thread::sleep_for(1s);
        std::cerr << "\r  processed " << processed.load() << " / " << options.jobs << std::flush;
      }
    });
    for (auto& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
    done = true;
    progress.join();
    std::cerr << "\n";
    result["elapsed"] = elapsed;
    result["jobs"] = processed.load();
    result["rate"] = static_cast<double>(options.jobs) / elapsed;
    result["queued_left"] = options.jobs - processed.load();
  } else if (options.strategy == "throughput") {
    std::vector<std::thread> threads;
    for (auto& c : consumers) {
      threads.emplace_back(
          [&c, &options] { c->Run(ConsumerRunOptions(options, RunMode::kContinuous)); });
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> producers;
    for (int p = 0; p < options.producers; ++p) {
      producers.emplace_back([&] {
        SyncDriver driver(dsn);
        ProducerQueries producer(driver, settings);
        while (!stop) {
          std::vector<NewJob> batch(static_cast<std::size_t>(options.enqueue_batch));
          const std::string now = std::to_string(NowNs());
          for (auto& job : batch) {
            job.entrypoint = "bench";
            job.payload = now;
          }
          producer.Enqueue(batch);
        }
      });
    }
    const auto start = SteadyClock::now();
    const auto until = start + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(options.seconds));
    while (SteadyClock::now() < until) {
      std::this_thread::sleep_for(
          std::min<SteadyClock::duration>(std::chrono::seconds(1), until - SteadyClock::now()));
      const double t = std::chrono::duration<double>(SteadyClock::now() - start).count();
      std::cerr << "\r  " << static_cast<long>(t) << " s: processed " << processed.load() << " ("
                << static_cast<long>(static_cast<double>(processed.load()) / t) << " jobs/s)"
                << std::flush;
    }
    const long at_stop = processed.load();
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
    stop = true;
    for (auto& t : producers) t.join();
    for (auto& c : consumers) c->Stop();
    for (auto& t : threads) t.join();
    std::cerr << "\n";
    ConnectionDriver admin(ConnectionOptions::FromDsn(dsn));
    result["elapsed"] = elapsed;
    result["jobs"] = at_stop;
    result["rate"] = static_cast<double>(at_stop) / std::max(elapsed, 1.0);
    result["queued_left"] = QueuedJobs(admin, settings);
  } else if (options.strategy == "latency") {
    std::thread runner(
        [&] { consumers.front()->Run(ConsumerRunOptions(options, RunMode::kContinuous)); });
    // Wait for the consumer to be idle and listening.
    while (!consumers.front()->driver().ListenerHealthy()) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(200ms);
    SyncDriver driver(dsn);
    ProducerQueries producer(driver, settings);
    for (int i = 0; i < options.latency_samples; ++i) {
      const long before = processed.load();
      NewJob job;
      job.entrypoint = "bench";
      job.payload = std::to_string(NowNs());
      producer.Enqueue(job);
      processed.wait(before);  // blocks; polling would take CPU from the path measured
      std::this_thread::sleep_for(5ms);  // back to idle between samples
    }
    consumers.front()->Stop();
    runner.join();
    result["jobs"] = processed.load();
  } else {
    std::cerr << "pgq bench: unknown strategy " << options.strategy << "\n";
    return 2;
  }
  for (auto [key, p] : {std::pair{"latency_p50_ms", 0.50}, std::pair{"latency_p95_ms", 0.95},
                        std::pair{"latency_p99_ms", 0.99}}) {
    if (auto v = latency.Percentile(p)) result[key] = *v;
  }
  return PrintResult(result, options);
}

}  // namespace pgq::worker
