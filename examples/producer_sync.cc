// Producer with the enqueue-only SyncDriver: what a web handler or a script
// does to hand work to the fleet.
//
//   PGQUEUER_DSN=postgresql://... producer_sync [COUNT] [ENTRYPOINT]

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/settings.h"

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 1000;
  const std::string entrypoint = argc > 2 ? argv[2] : "demo.sync";
  const char* dsn = std::getenv("PGQUEUER_DSN");
  try {
    pgq::SyncDriver driver(dsn ? dsn : "");
    pgq::ProducerQueries queries(driver, pgq::DBSettings::FromEnv());
    constexpr long kBatch = 1000;  // one statement per thousand jobs
    long done = 0;
    while (done < count) {
      std::vector<pgq::NewJob> batch;
      for (long i = 0; i < kBatch && done + i < count; ++i) {
        pgq::NewJob job;
        job.entrypoint = entrypoint;
        job.payload = "job-" + std::to_string(done + i);
        job.headers = R"({"source": "producer_sync"})";
        batch.push_back(std::move(job));
      }
      done += static_cast<long>(queries.Enqueue(batch).size());
    }
    std::cout << "enqueued " << done << " jobs on " << entrypoint << "\n";
  } catch (const pgq::Error& e) {
    std::cerr << "producer_sync: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
