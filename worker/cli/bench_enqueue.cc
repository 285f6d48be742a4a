// `pgq bench --strategy enqueue`: producers only. N threads each enqueue one
// job per call for T seconds, first through one ProducerQueries (own
// connection) per thread, then through one shared BatchingProducer; reports
// jobs/s and the enqueue call's latency (call to committed id) per producer.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/bench.h"
#include "pgq/batching_producer.h"
#include "pgq/pool.h"
#include "pgq/queries.h"

namespace pgq::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Counts the batching producer's statements (for the mean batch size and
// the mean time from taking a connection to the commit).
class StatementCounter final : public Observer {
 public:
  void OnProducerFlush(std::size_t sent, std::chrono::duration<double> took, bool ok) override {
    if (!ok) return;
    std::scoped_lock lock(mu);
    ++statements;
    jobs += static_cast<long>(sent);
    seconds += took.count();
  }
  std::mutex mu;
  long statements = 0;
  long jobs = 0;
  double seconds = 0;
};

struct Samples {
  std::mutex mu;
  std::vector<double> ms;  // one per successful call
  long errors = 0;
};

// Runs `threads` threads calling `enqueue_one` (which returns once the job
// committed) until `seconds` passed; returns the result row.
template <typename MakeCaller>
nlohmann::ordered_json Measure(int threads, double seconds, MakeCaller make_caller) {
  Samples samples;
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto call = make_caller(t);  // connection set-up is not measured
      std::vector<double> local;
      long errors = 0;
      ++ready;
      ready.notify_all();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto start = SteadyClock::now();
        try {
          call();
          local.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start)
                              .count());
        } catch (const Error&) {
          ++errors;
        }
      }
      std::scoped_lock lock(samples.mu);
      samples.ms.insert(samples.ms.end(), local.begin(), local.end());
      samples.errors += errors;
    });
  }
  for (int seen = ready.load(); seen < threads; seen = ready.load()) ready.wait(seen);
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();

  auto& ms = samples.ms;
  std::sort(ms.begin(), ms.end());
  auto percentile = [&](double p) {
    return ms.empty() ? 0.0 : ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))];
  };
  nlohmann::ordered_json row;
  row["jobs"] = ms.size();
  row["elapsed"] = elapsed;
  row["rate"] = static_cast<double>(ms.size()) / elapsed;
  row["call_p50_ms"] = percentile(0.50);
  row["call_p99_ms"] = percentile(0.99);
  row["errors"] = samples.errors;
  return row;
}

NewJob BenchJob() {
  NewJob job;
  job.entrypoint = "bench";
  job.payload = "enqueue-bench";
  return job;
}

}  // namespace

int RunEnqueueBench(const std::string& dsn, const DBSettings& settings,
                    const BenchOptions& options, nlohmann::ordered_json& result) {
  const int threads = std::max(1, options.producers);
  result["threads"] = threads;
  result["seconds"] = options.seconds;
  ConnectionDriver admin(ConnectionOptions::FromDsn(dsn));
  Queries admin_queries(admin, settings);

  if (options.producer != "batching") {
    std::cerr << "enqueue: " << threads << " threads, one ProducerQueries per thread\n";
    result["per_call"] = Measure(threads, options.seconds, [&](int) {
      auto driver = std::make_shared<SyncDriver>(dsn);
      auto producer = std::make_shared<ProducerQueries>(*driver, settings);
      return [driver, producer] { producer->Enqueue(BenchJob()); };
    });
    admin_queries.ClearQueue();
  }
  if (options.producer != "per-call") {
    std::cerr << "enqueue: " << threads << " threads, one BatchingProducer\n";
    BatchingProducerSettings batching;  // the library's defaults unless options say otherwise
    if (options.flushers) batching.flushers = static_cast<std::size_t>(*options.flushers);
    if (options.max_delay_ms) {
      batching.max_delay = std::chrono::microseconds(std::llround(*options.max_delay_ms * 1000));
    }
    if (options.flush_when_idle) batching.flush_when_idle = *options.flush_when_idle;
    PoolSettings pool;
    pool.min_size = batching.flushers;
    pool.max_size = batching.flushers;
    auto counter = std::make_shared<StatementCounter>();
    BatchingProducer producer(ConnectionPool::Create(ConnectionOptions::FromDsn(dsn), pool),
                              settings, batching, counter);
    auto row = Measure(threads, options.seconds,
                       [&](int) { return [&producer] { producer.Enqueue(BenchJob()).get(); }; });
    producer.Close();
    {
      std::scoped_lock lock(counter->mu);
      const double statements = static_cast<double>(counter->statements);
      row["statements"] = counter->statements;
      row["mean_batch"] = statements > 0 ? static_cast<double>(counter->jobs) / statements : 0.0;
      row["flush_mean_ms"] = statements > 0 ? 1000 * counter->seconds / statements : 0.0;
    }
    row["max_batch"] = batching.max_batch;
    row["max_delay_ms"] = std::chrono::duration<double, std::milli>(batching.max_delay).count();
    row["flushers"] = batching.flushers;
    row["flush_when_idle"] = batching.flush_when_idle;
    result["batching"] = row;
    admin_queries.ClearQueue();
  }
  if (result.contains("per_call") && result.contains("batching") &&
      result["per_call"]["rate"].get<double>() > 0) {
    result["ratio"] =
        result["batching"]["rate"].get<double>() / result["per_call"]["rate"].get<double>();
  }
  return 0;
}

}  // namespace pgq::worker
