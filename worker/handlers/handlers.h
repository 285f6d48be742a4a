#pragma once
// Handlers built from configuration (no recompiling): exec, http, sql and
// the built-ins noop, sleep, fail.

#include <memory>

#include "config/config.h"
#include "pgq/pool.h"
#include "pgq/runtime.h"
#include "pgq/scheduler.h"

namespace pgq::worker {

/// What handlers may use: the pool (for `sql`).
struct HandlerDeps {
  std::shared_ptr<ConnectionPool> pool;
};

/// Builds the job handler for a configuration.
///  - exec: runs `command` with the payload on stdin and PGQ_JOB_ID,
///    PGQ_ENTRYPOINT, PGQ_HEADERS, PGQ_ATTEMPTS in the environment; a timeout
///    kills the whole process group; exit 0 = success, otherwise an error
///    whose message ends with the tail of stderr.
///  - http: POSTs the payload (Content-Type application/octet-stream) with
///    X-Pgq-Job-Id / X-Pgq-Entrypoint / X-Pgq-Headers headers; 2xx success,
///    4xx PermanentFailure (no retries), 5xx / timeouts / network errors
///    retryable failures.
///  - sql: runs `statement` on a pooled connection with $1 = payload (bytea)
///    and $2 = headers (JSON text); autocommit.
///  - noop / sleep (honours cancellation) / fail (throws `message`).
Handler MakeHandler(const HandlerConfig& config, const HandlerDeps& deps);
/// The same for schedules (exec without payload; http POSTs an empty body).
ScheduleHandler MakeScheduleHandler(const HandlerConfig& config, const HandlerDeps& deps);

}  // namespace pgq::worker
