#pragma once
// The `sql` handler: runs a configured statement on a pooled connection.

#include <memory>

#include "config/config.h"
#include "handlers/invocation.h"
#include "pgq/pool.h"

namespace pgq::worker {

/// $1 = payload (bytea), $2 = headers (JSON text); autocommit. Throws
/// LogicError without a pool or with an empty statement.
Runner MakeSqlRunner(const HandlerConfig& config, std::shared_ptr<ConnectionPool> pool);

}  // namespace pgq::worker
