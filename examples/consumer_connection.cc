// A consumer over one libpqxx connection you own: PgQueuer on a borrowed
// connection, one entrypoint, drain mode (exit when the queue is empty).
//
//   PGQUEUER_DSN=postgresql://... consumer_connection [ENTRYPOINT]

#include <atomic>
#include <cstdlib>
#include <iostream>

#include <pqxx/connection>

#include "pgq/error.h"
#include "pgq/pqxx.h"

int main(int argc, char** argv) {
  const std::string entrypoint = argc > 1 ? argv[1] : "demo.hello";
  const char* dsn = std::getenv("PGQUEUER_DSN");
  try {
    pqxx::connection connection(dsn ? dsn : "");
    auto pgq = pgq::PgQueuerFromConnection(connection);
    std::atomic<long> done{0};
    pgq->Entrypoint(entrypoint, [&](pgq::JobContext& ctx) {
      // The payload is opaque bytes; this demo prints it as text.
      std::cout << "job " << ctx.job.id << ": " << ctx.job.payload.value_or("") << "\n";
      ++done;
    });
    pgq::RunOptions options;
    options.mode = pgq::RunMode::kDrain;
    pgq->Run(options);
    std::cout << "processed " << done << " jobs\n";
  } catch (const std::exception& e) {
    std::cerr << "consumer_connection: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
