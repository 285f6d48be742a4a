// Test helper for tests/scripts/interop.sh: cancels jobs through pgq's own
// Queries::Cancel (the CLI has no cancel command), so the interop suite can
// check that PgQueuer workers honour a cancellation sent by pgq.
//
//   PGQUEUER_DSN=... [PGQUEUER_PREFIX=...] interop_cancel JOB_ID...

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/queries.h"
#include "pgq/settings.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: interop_cancel JOB_ID...\n";
    return 2;
  }
  try {
    std::vector<pgq::JobId> ids;
    for (int i = 1; i < argc; ++i) ids.push_back(std::stoll(argv[i]));
    const char* dsn = std::getenv("PGQUEUER_DSN");
    pgq::ConnectionDriver driver(pgq::ConnectionOptions::FromDsn(dsn ? dsn : ""));
    pgq::Queries queries(driver, pgq::DBSettings::FromEnv());
    queries.Cancel(ids);
    std::cout << "canceled " << ids.size() << " job(s)\n";
  } catch (const std::exception& e) {
    std::cerr << "interop_cancel: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
