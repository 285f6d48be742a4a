// `pgq bench --strategy enqueue`: producers only. N threads each enqueue one
// job per call for T seconds, first through one ProducerQueries (own
// connection) per thread, then through one shared BatchingProducer (each
// thread making `--outstanding` calls before it waits for their ids); reports
// jobs/s, each job's latency (call to committed id) and the process's own CPU
// and context switches per job, per producer.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <mutex>
#include <thread>
#include <utility>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "bench/bench.h"
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
  std::vector<double> ms;  // one per committed job
  long errors = 0;
};

// CPU time and context switches of the whole process (every thread).
struct Usage {
  static Usage Now() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return {seconds(r.ru_utime) + seconds(r.ru_stime), r.ru_nvcsw + r.ru_nivcsw};
  }
  double cpu_seconds;
  long switches;
};

// Runs `threads` threads until `seconds` passed, each calling the callable
// `make_caller(t)` returns; a call enqueues jobs, waits for their ids and
// appends each job's latency (ms, call to committed id) to its argument.
// Returns the result row.
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
        try {
          call(local);
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
  const Usage before = Usage::Now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const Usage after = Usage::Now();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();

  auto& ms = samples.ms;
  std::sort(ms.begin(), ms.end());
  auto percentile = [&](double p) {
    return ms.empty() ? 0.0 : ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))];
  };
  const double jobs = std::max<double>(1, static_cast<double>(ms.size()));
  nlohmann::ordered_json row;
  row["jobs"] = ms.size();
  row["elapsed"] = elapsed;
  row["rate"] = static_cast<double>(ms.size()) / elapsed;
  row["call_p50_ms"] = percentile(0.50);
  row["call_p99_ms"] = percentile(0.99);
  row["errors"] = samples.errors;
  // The benchmark process's own cost per job (callers and producer): where
  // a closed loop of blocked threads spends its time (docs/benchmarks.md).
  row["process_cpu_us_per_job"] = 1e6 * (after.cpu_seconds - before.cpu_seconds) / jobs;
  row["context_switches_per_job"] = static_cast<double>(after.switches - before.switches) / jobs;
  return row;
}

double MsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
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
      return [driver, producer](std::vector<double>& ms) {
        const auto start = SteadyClock::now();
        producer->Enqueue(BenchJob());
        ms.push_back(MsSince(start));
      };
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
    if (options.max_batch) batching.max_batch = static_cast<std::size_t>(*options.max_batch);
    const int outstanding = std::max(1, options.outstanding);
    PoolSettings pool;
    pool.min_size = batching.flushers;
    pool.max_size = batching.flushers;
    auto counter = std::make_shared<StatementCounter>();
    BatchingProducer producer(ConnectionPool::Create(ConnectionOptions::FromDsn(dsn), pool),
                              settings, batching, counter);
    auto row = Measure(threads, options.seconds, [&](int) {
      // `outstanding` calls of one job each, then their ids in call order.
      return [&producer, outstanding,
              calls = std::vector<std::pair<SteadyClock::time_point, std::future<JobId>>>()](
                 std::vector<double>& ms) mutable {
        calls.clear();
        for (int i = 0; i < outstanding; ++i) {
          const auto start = SteadyClock::now();
          calls.emplace_back(start, producer.Enqueue(BenchJob()));
        }
        for (auto& [start, future] : calls) {
          future.get();
          ms.push_back(MsSince(start));
        }
      };
    });
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
    row["outstanding"] = outstanding;
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
