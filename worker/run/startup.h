#pragma once
// Start-up of `pgq run`: a database that is down, or a schema that is
// missing or old, is waited out (retried, reported by /readyz), not fatal.

#include <memory>
#include <stop_token>

#include "config/config.h"
#include "metrics/metrics.h"
#include "pgq/pool.h"
#include "run/run_state.h"

namespace pgq::worker {

/// Opens the pool, retrying with back-off (1 s doubling to 30 s) until it
/// opens or `stop` is requested (then nullptr). Each failure becomes the
/// "database" startup problem in `state`. A LogicError (a configuration the
/// pool refuses) is rethrown.
std::shared_ptr<ConnectionPool> OpenPool(const WorkerConfig& config,
                                         const std::shared_ptr<Metrics>& metrics,
                                         RunState& state, const std::stop_token& stop);

enum class SchemaWait {
  kReady,         ///< the schema verifies: start consuming
  kStopped,       ///< stop was requested while waiting
  kIncompatible,  ///< a newer PgQueuer schema: refuse to start (exit 2)
};

/// Re-checks the queue schema every few seconds until it verifies or `stop`
/// is requested; a failing check is the "schema" startup problem in `state`.
/// A schema pgq does not speak (Schema::VerifyForWorker's `foreign`) is not
/// waited out: it is logged as an error, becomes the startup problem, and
/// ends the wait with kIncompatible.
SchemaWait WaitForSchema(const WorkerConfig& config, const std::shared_ptr<ConnectionPool>& pool,
                   RunState& state, const std::stop_token& stop);

}  // namespace pgq::worker
