// Many threads enqueueing through one BatchingProducer: each call returns a
// future that holds the job id once the flush carrying the job committed.
// Concurrent calls share enqueue statements, so the rate is no longer one
// durable commit per job per connection.
//
//   PGQUEUER_DSN=postgresql://... producer_batching [THREADS] [JOBS_PER_THREAD] [ENTRYPOINT]

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "pgq/batching_producer.h"
#include "pgq/error.h"
#include "pgq/pool.h"
#include "pgq/settings.h"

namespace {

// Counts enqueue statements, to show how many jobs shared each one.
class FlushCounter final : public pgq::Observer {
 public:
  void OnProducerFlush(std::size_t, std::chrono::duration<double>, bool ok) override {
    if (ok) ++statements;
  }
  std::atomic<long> statements{0};
};

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 16;
  const int per_thread = argc > 2 ? std::atoi(argv[2]) : 100;
  const std::string entrypoint = argc > 3 ? argv[3] : "demo.batching";
  const char* dsn = std::getenv("PGQUEUER_DSN");
  try {
    pgq::PoolSettings pool;
    pool.max_size = 4;
    pgq::BatchingProducerSettings batching;
    batching.max_batch = 500;                           // jobs per statement at most
    batching.flush_when_idle = true;                    // nothing being written: send at once
    batching.max_delay = std::chrono::milliseconds(5);  // else wait at most this for it
    batching.flushers = 2;                              // statements in flight at once
    auto counter = std::make_shared<FlushCounter>();
    pgq::BatchingProducer producer(
        pgq::ConnectionPool::Create(pgq::ConnectionOptions::FromDsn(dsn ? dsn : ""), pool),
        pgq::DBSettings::FromEnv(), batching, counter);

    std::atomic<long> done{0};
    std::atomic<long> failed{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          pgq::NewJob job;
          job.entrypoint = entrypoint;
          job.payload = std::to_string(t) + "/" + std::to_string(i);
          try {
            producer.Enqueue(std::move(job)).get();  // committed once get() returns
            ++done;
          } catch (const pgq::Error& e) {
            if (failed++ == 0) std::cerr << "producer_batching: " << e.what() << "\n";
          }
        }
      });
    }
    for (auto& worker : workers) worker.join();
    producer.Close();
    std::cout << "enqueued " << done.load() << " jobs from " << threads << " threads in "
              << counter->statements.load() << " statements\n";
    return failed.load() == 0 ? 0 : 1;
  } catch (const pgq::Error& e) {
    std::cerr << "producer_batching: " << e.what() << "\n";
    return 1;
  }
}
