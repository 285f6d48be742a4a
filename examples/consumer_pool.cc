// A consumer over a connection pool, with shared resources and an explicit
// channel: the shape of a production worker. Drain mode.
//
//   PGQUEUER_DSN=postgresql://... consumer_pool [ENTRYPOINT] [CHANNEL]

#include <atomic>
#include <cstdlib>
#include <iostream>

#include "pgq/error.h"
#include "pgq/pgqueuer.h"
#include "pgq/pool.h"

int main(int argc, char** argv) {
  const std::string entrypoint = argc > 1 ? argv[1] : "demo.sync";
  const char* dsn = std::getenv("PGQUEUER_DSN");
  try {
    const auto settings = pgq::DBSettings::FromEnv();
    const std::string channel = argc > 2 ? argv[2] : settings.channel;
    pgq::PoolSettings pool_settings;
    pool_settings.min_size = 2;
    pool_settings.max_size = 4;
    auto pool = pgq::ConnectionPool::Create(pgq::ConnectionOptions::FromDsn(dsn ? dsn : ""),
                                            pool_settings);

    // Resources are shared by every job: here a counter and a greeting.
    auto resources = std::make_shared<pgq::Resources>();
    auto counter = std::make_shared<std::atomic<long>>(0);
    resources->Set("counter", counter);
    resources->Set("greeting", std::string("hello from the pool consumer"));

    auto pgq = pgq::PgQueuer::FromPool(pool, channel, resources, settings);
    pgq->Entrypoint(entrypoint, [](pgq::JobContext& ctx) {
      auto count = ctx.resources.Get<std::shared_ptr<std::atomic<long>>>("counter");
      if (count) ++**count;
    });
    pgq::RunOptions options;
    options.mode = pgq::RunMode::kDrain;
    options.batch_size = 50;
    pgq->Run(options);
    std::cout << *resources->Get<std::string>("greeting") << ": processed " << counter->load()
              << " jobs on channel " << pgq->channel() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "consumer_pool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
