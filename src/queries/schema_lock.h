#pragma once
// The advisory lock that serialises schema changes (Schema::Install,
// Upgrade, Migrate), so a migration Job and a `pgq upgrade` from a laptop
// can start at the same moment.

#include <functional>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq::detail {

/// Runs `body` on one session holding pg_advisory_lock for this queue table
/// (waits for a concurrent holder), and unlocks afterwards, also when `body`
/// throws. A PoolDriver is replaced by one leased connection.
void WithSchemaLock(Executor& db, const DBSettings& settings,
                    const std::function<void(Executor& session)>& body);

}  // namespace pgq::detail
