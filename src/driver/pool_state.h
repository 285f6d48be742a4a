#pragma once
// The inside of a ConnectionPool: its connections and counters, and the
// narrow door through which PoolDriver reserves capacity for its LISTEN
// connection. Internal: pgq/pool.h only names these types through pointers.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "driver/session.h"
#include "pgq/pool.h"

namespace pgq::detail {

/// One pooled connection, idle in the pool or held by a Lease.
struct PooledConnection {
  std::unique_ptr<Session> session;
  std::chrono::steady_clock::time_point leased_at;
  std::chrono::steady_clock::time_point last_checked;
  bool exposed = false;   // user code had the raw connection
  bool errored = false;   // a statement failed on this lease: check it on return
  bool poisoned = false;  // an error said never to use it again
};

struct PoolState {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<PooledConnection>> idle;  // guarded by mu
  std::size_t total = 0;     // open or opening, including leased; guarded by mu
  std::size_t active = 0;    // leased out; guarded by mu
  std::size_t pending = 0;   // waiting in Acquire; guarded by mu
  std::size_t reserved = 0;  // capacity held by dedicated connections; guarded by mu
  bool closed = false;       // guarded by mu
  std::optional<ConnectionPool::Violation> last_violation;  // guarded by mu
};

/// Holds one unit of a pool's max_size for a connection opened outside the
/// pool (PoolDriver's LISTEN connection), so that a worker never opens more
/// than max_size connections in total. Released on destruction.
class PoolReservation {
 public:
  explicit PoolReservation(std::shared_ptr<ConnectionPool> pool);
  ~PoolReservation();
  PoolReservation(const PoolReservation&) = delete;
  PoolReservation& operator=(const PoolReservation&) = delete;

 private:
  std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace pgq::detail
