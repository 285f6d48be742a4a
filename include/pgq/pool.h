#pragma once
/// @file
/// A bounded connection pool and the Driver built on it.
///
/// libpqxx stays out of the public headers except in pgq/pqxx.h and here in
/// Lease::connection(), which hands out the pooled libpqxx connection (a
/// forward declaration: include <pqxx/...> yourself to use it).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/error.h"
#include "pgq/observer.h"

namespace pqxx {
class connection_base;
}

namespace pgq {

inline constexpr std::size_t kDefaultPoolMinSize = 1;
inline constexpr std::size_t kDefaultPoolMaxSize = 10;

struct PoolSettings {
  std::size_t min_size = kDefaultPoolMinSize;
  std::size_t max_size = kDefaultPoolMaxSize;
  /// How long Acquire() waits for a free connection.
  std::chrono::milliseconds acquire_timeout{5000};
  /// Connections older than this are closed when returned (0 = never).
  std::chrono::milliseconds max_lifetime{30 * 60 * 1000};
  /// Idle connections are pinged at least this often by CheckIdle().
  std::chrono::milliseconds health_check_interval{30 * 1000};
  bool operator==(const PoolSettings&) const = default;
};

/// Counts for metrics and readiness.
struct PoolStats {
  std::size_t active = 0;   ///< leased out now
  std::size_t idle = 0;     ///< open and free
  std::size_t pending = 0;  ///< callers waiting in Acquire()
  std::size_t min_size = 0;
  std::size_t max_size = 0;
};

/// One idle connection's verdict from CheckIdle().
struct ConnectionCheck {
  bool ok = false;
  std::string reason;  ///< empty when ok
  /// The session rule the connection broke; unset when it is ok or failed
  /// otherwise (closed, or the round trip failed).
  std::optional<ConnectionStateError::Kind> violated;
};

class ConnectionPool;

namespace detail {
struct PooledConnection;  // src/driver/pool_state.h
struct PoolState;
class PoolReservation;
}  // namespace detail

/// A connection borrowed from the pool. Move-only; returns the connection in
/// its destructor. The pool checks the session state on return and discards
/// the connection if it was left inside a transaction block, at another
/// isolation level, or broken.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  explicit operator bool() const noexcept { return slot_ != nullptr; }

  Rows Fetch(std::string_view sql, const Params& params = {});
  std::int64_t Execute(std::string_view sql, const Params& params = {});

  /// The libpqxx connection, for code that needs the full API (transactional
  /// enqueue, the `sql` handler). A lease that handed it out is checked with
  /// a server round trip on return instead of libpq's local status.
  pqxx::connection_base& connection();

  /// Returns the connection now (idempotent).
  void Release() noexcept;

 private:
  friend class ConnectionPool;
  Lease(std::shared_ptr<ConnectionPool> pool, detail::PooledConnection* slot);
  // A statement failed: a connection-level error discards the connection
  // (and the idle ones), any other has it checked on return.
  void OnError(const Error& e) noexcept;
  std::shared_ptr<ConnectionPool> pool_;
  detail::PooledConnection* slot_ = nullptr;
};

/// Thread-safe bounded pool of autocommit connections. Create with
/// ConnectionPool::Create; leases keep the pool alive.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  static std::shared_ptr<ConnectionPool> Create(
      ConnectionOptions options, PoolSettings settings = {},
      std::shared_ptr<Observer> observer = nullptr);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  /// Waits up to acquire_timeout for a connection; opens one if below
  /// max_size. Throws PoolTimeoutError, ConnectionError or
  /// ConnectionStateError.
  Lease Acquire();

  PoolStats Stats() const;
  const PoolSettings& settings() const noexcept { return settings_; }
  const ConnectionOptions& options() const noexcept { return options_; }
  Observer& observer() const noexcept { return *observer_; }

  /// Inspects every idle connection (one round trip each), discards the bad
  /// ones, tops the pool up to min_size, and reports what it found.
  std::vector<ConnectionCheck> CheckIdle();
  /// The most recent connection-state violation the pool saw (a connection
  /// returned inside a transaction block, at another isolation, or a new
  /// connection refused for its isolation), for readiness reporting.
  struct Violation {
    std::chrono::steady_clock::time_point when;
    ConnectionStateError::Kind kind;  ///< which rule: transaction block or isolation
    std::string what;
  };
  std::optional<Violation> LastViolation() const;

  /// Closes idle connections and refuses new leases.
  void Close();
  /// Closes every idle connection (called when a statement finds the
  /// server gone, so the next Acquire opens fresh ones).
  void DropIdle() noexcept;

 private:
  friend class Lease;                    // returns its connection
  friend class detail::PoolReservation;  // PoolDriver's LISTEN connection
  ConnectionPool(ConnectionOptions options, PoolSettings settings,
                 std::shared_ptr<Observer> observer);
  void Return(detail::PooledConnection* slot) noexcept;
  void RecordViolation(ConnectionStateError::Kind kind, std::string what) noexcept;

  ConnectionOptions options_;
  PoolSettings settings_;
  std::shared_ptr<Observer> observer_;
  std::unique_ptr<detail::PoolState> state_;
};

/// Driver over a pool: statements run on leased connections; LISTEN runs on
/// one dedicated connection (not from the pool) with its own thread that
/// reconnects and re-LISTENs after a failure.
///
/// Without `listener` options the LISTEN connection uses the pool's options
/// and counts against max_size (so max_size >= 2 is required). With them it
/// goes to its own endpoint (e.g. straight to PostgreSQL while statements go
/// through a transaction-mode PgBouncer, which cannot carry LISTEN) and does
/// not count against the pool.
class PoolDriver final : public Driver {
 public:
  explicit PoolDriver(std::shared_ptr<ConnectionPool> pool,
                      std::optional<ConnectionOptions> listener = std::nullopt);
  ~PoolDriver() override;
  PoolDriver(const PoolDriver&) = delete;
  PoolDriver& operator=(const PoolDriver&) = delete;

  Rows Fetch(std::string_view sql, const Params& params = {}) override;
  std::int64_t Execute(std::string_view sql, const Params& params = {}) override;
  std::unique_ptr<Subscription> Listen(std::string_view channel,
                                       NotificationCallback callback,
                                       ReconnectCallback on_reconnect = {}) override;
  bool ListenerHealthy() const override;

  ConnectionPool& pool() const noexcept { return *pool_; }

 private:
  std::shared_ptr<ConnectionPool> pool_;
  std::optional<ConnectionOptions> listener_options_;
  struct ListenerSet;
  std::shared_ptr<ListenerSet> listeners_;
};

}  // namespace pgq
