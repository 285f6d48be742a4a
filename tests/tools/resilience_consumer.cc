// Test helper for tests/scripts/restart_resilience.sh: a pooled PgQueuer
// that consumes one entrypoint slowly (so a server restart lands in the
// middle) until SIGTERM.
//
//   PGQUEUER_DSN=... PGQUEUER_SCHEMA=... resilience_consumer ENTRYPOINT

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "pgq/pgqueuer.h"
#include "pgq/pool.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: resilience_consumer ENTRYPOINT\n";
    return 2;
  }
  // SIGTERM/SIGINT are taken by a waiting thread, not a handler, so Stop()
  // runs in normal context.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    const char* dsn = std::getenv("PGQUEUER_DSN");
    pgq::PoolSettings pool_settings;
    pool_settings.min_size = 2;
    pool_settings.max_size = 4;
    pool_settings.acquire_timeout = std::chrono::seconds(2);
    auto pool = pgq::ConnectionPool::Create(pgq::ConnectionOptions::FromDsn(dsn ? dsn : ""),
                                            pool_settings);
    auto queuer = pgq::PgQueuer::FromPool(pool);
    queuer->Entrypoint(argv[1], [](pgq::JobContext&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // simulated work
    });
    std::thread waiter([&] {
      int received = 0;
      sigwait(&signals, &received);
      queuer->Stop();
    });
    pgq::RunOptions options;
    options.batch_size = 10;
    options.handler_threads = 2;
    options.heartbeat_timeout = std::chrono::seconds(2);  // claims lost in doubt return fast
    options.dequeue_timeout = std::chrono::seconds(1);
    queuer->Run(options);
    pthread_kill(waiter.native_handle(), SIGTERM);  // release the waiter if Run ended alone
    waiter.join();
  } catch (const std::exception& e) {
    std::cerr << "resilience_consumer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
