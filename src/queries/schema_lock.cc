#include "queries/schema_lock.h"

#include "pgq/pool.h"

namespace pgq::detail {
namespace {

// Two-key form: the first key names pgq's schema lock, the second the queue
// table (qualified), so queues in different schemas do not wait on each
// other. hashtext() runs on the server, so every client computes the same key.
constexpr std::string_view kLock = "SELECT pg_advisory_lock(hashtext('pgq.schema'), hashtext($1))";
constexpr std::string_view kUnlock =
    "SELECT pg_advisory_unlock(hashtext('pgq.schema'), hashtext($1))";

void Locked(Executor& session, const DBSettings& settings,
            const std::function<void(Executor&)>& body) {
  const Params key{settings.QueueTable()};
  session.Fetch(kLock, key);
  try {
    body(session);
  } catch (...) {
    // A broken session released the lock with it; the body's error is the
    // one worth reporting.
    try {
      session.Fetch(kUnlock, key);
    } catch (...) {
    }
    throw;
  }
  session.Fetch(kUnlock, key);
}

class LeaseExecutor final : public Executor {
 public:
  explicit LeaseExecutor(Lease& lease) : lease_(lease) {}
  Rows Fetch(std::string_view sql, const Params& params) override {
    return lease_.Fetch(sql, params);
  }
  std::int64_t Execute(std::string_view sql, const Params& params) override {
    return lease_.Execute(sql, params);
  }

 private:
  Lease& lease_;
};

}  // namespace

void WithSchemaLock(Executor& db, const DBSettings& settings,
                    const std::function<void(Executor& session)>& body) {
  if (auto* pool_driver = dynamic_cast<PoolDriver*>(&db)) {
    auto lease = pool_driver->pool().Acquire();
    LeaseExecutor session(lease);
    Locked(session, settings, body);
    return;
  }
  Locked(db, settings, body);
}

}  // namespace pgq::detail
