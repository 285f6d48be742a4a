#pragma once
/// @file
/// The driver layer: how the queue talks to PostgreSQL.
///
/// Every driver runs each statement in autocommit at the server's default
/// READ COMMITTED isolation, and refuses a connection that is inside a
/// transaction block or at another isolation level (ConnectionStateError).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/observer.h"

namespace pgq {

/// A bound statement parameter in text form; std::nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

/// A result set in text form. Column lookup by name is resolved once per
/// result, so `rows.Index("id")` then `rows.At(r, i)` is the fast path.
class Rows {
 public:
  Rows() = default;
  Rows(std::vector<std::string> columns,
       std::vector<std::vector<Param>> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  std::size_t size() const noexcept { return values_.size(); }
  bool empty() const noexcept { return values_.empty(); }
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  /// Index of a column; throws pgq::LogicError if there is none.
  std::size_t Index(std::string_view column) const;
  const Param& At(std::size_t row, std::size_t column) const {
    return values_.at(row).at(column);
  }
  const Param& At(std::size_t row, std::string_view column) const {
    return At(row, Index(column));
  }
  /// Non-null text of a cell; throws pgq::LogicError on NULL.
  const std::string& Text(std::size_t row, std::string_view column) const;
  std::int64_t Int(std::size_t row, std::string_view column) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<Param>> values_;
};

/// One asynchronous notification received on a LISTENed channel.
struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};
using NotificationCallback = std::function<void(const Notification&)>;
/// Runs on a driver thread each time a LISTEN is in place again on a new
/// connection after the previous one was lost. Notifications sent in between
/// never arrive, so whatever they would have signalled must be checked again.
using ReconnectCallback = std::function<void()>;

/// What a connection must look like before the queue may use it.
struct ConnectionRequirements {
  /// Value of `transaction_isolation` the queue expects (SHOW spelling).
  std::string isolation = "read committed";
  bool operator==(const ConnectionRequirements&) const = default;
};

/// Result of inspecting one connection's session state.
struct ConnectionState {
  bool in_transaction = false;
  std::string isolation;
  /// `transaction_read_only` is on (a standby, or default_transaction_read_only).
  bool read_only = false;
  /// pg_is_in_recovery(): the server is a hot standby.
  bool in_recovery = false;
  /// "host:port" of the server, for messages (may be empty).
  std::string server;
};

/// Checks a state against the requirements; throws ConnectionStateError
/// whose message says which rule failed and why it matters, or ReadOnlyError
/// when the server cannot take writes (a standby, or read-only).
void EnforceRequirements(const ConnectionState& state,
                         const ConnectionRequirements& requirements,
                         std::string_view where);

/// Runs statements. This is all a producer needs.
class Executor {
 public:
  virtual ~Executor() = default;
  /// Runs a statement with `$n` placeholders and returns its rows.
  virtual Rows Fetch(std::string_view sql, const Params& params = {}) = 0;
  /// Runs a statement and returns the number of affected rows.
  virtual std::int64_t Execute(std::string_view sql,
                               const Params& params = {}) = 0;
};

/// Handle for a LISTEN registration; unlistens when destroyed.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

/// A full driver: statements, NOTIFY and LISTEN. The consumer runtime
/// needs this; the enqueue-only SyncDriver is deliberately not one.
class Driver : public Executor {
 public:
  /// `SELECT pg_notify($1, $2)` with both values bound.
  virtual void Notify(std::string_view channel, std::string_view payload);
  /// LISTENs on `channel`; `callback` runs on a driver thread for every
  /// notification until the subscription is destroyed, and `on_reconnect`
  /// (if set) every time the LISTEN is re-established after a lost
  /// connection. Callbacks must be quick and must not call back into the
  /// driver.
  virtual std::unique_ptr<Subscription> Listen(std::string_view channel,
                                               NotificationCallback callback,
                                               ReconnectCallback on_reconnect = {}) = 0;
  /// True while the LISTEN connection (if any) is connected and listening.
  virtual bool ListenerHealthy() const = 0;
};

/// How to open connections: a libpq connection string or URI, produced
/// on demand so that rotated secrets are read again on every reconnect.
struct ConnectionOptions {
  std::function<std::string()> conninfo = [] { return std::string{}; };
  ConnectionRequirements requirements;
  /// Statement sent once on every new connection (e.g. SET statements).
  std::string on_connect_sql = "SET TIME ZONE 'UTC'";
  /// Prepare statements with parameters once per connection (named
  /// prepared statements; turn off behind a PgBouncer older than 1.21 in
  /// transaction mode).
  bool prepare_statements = true;
  /// Told about connect errors and reconnects (may be null).
  std::shared_ptr<Observer> observer;

  static ConnectionOptions FromDsn(std::string dsn);
};

namespace detail {
class ConnectionCore;        // src/driver/connection_core.h
class ConnectionDriverGate;  // builds a driver around a borrowed connection
}  // namespace detail

/// Driver over one connection that it opens and owns. Calls are serialised
/// with a mutex (one libpqxx connection is one thread's world). A broken
/// connection is re-opened on the next call; LISTENs are re-issued.
class ConnectionDriver final : public Driver {
 public:
  explicit ConnectionDriver(ConnectionOptions options);
  ~ConnectionDriver() override;
  ConnectionDriver(const ConnectionDriver&) = delete;
  ConnectionDriver& operator=(const ConnectionDriver&) = delete;

  Rows Fetch(std::string_view sql, const Params& params = {}) override;
  std::int64_t Execute(std::string_view sql, const Params& params = {}) override;
  std::unique_ptr<Subscription> Listen(std::string_view channel,
                                       NotificationCallback callback,
                                       ReconnectCallback on_reconnect = {}) override;
  bool ListenerHealthy() const override;

  /// Inspects the session (transaction block, isolation) with one query.
  ConnectionState Inspect();

 private:
  // BorrowConnection() (pgq/pqxx.h) wraps a core over the caller's connection.
  friend class detail::ConnectionDriverGate;
  explicit ConnectionDriver(std::shared_ptr<detail::ConnectionCore> impl);
  std::shared_ptr<detail::ConnectionCore> impl_;
};

/// Enqueue-only driver for producers (web handlers, scripts). It can run
/// producer statements and nothing else: it is not a Driver, so no consumer
/// (Queries, QueueManager) can be built from it.
class SyncDriver final : public Executor {
 public:
  explicit SyncDriver(ConnectionOptions options);
  explicit SyncDriver(std::string dsn)
      : SyncDriver(ConnectionOptions::FromDsn(std::move(dsn))) {}
  ~SyncDriver() override;
  SyncDriver(const SyncDriver&) = delete;
  SyncDriver& operator=(const SyncDriver&) = delete;

  Rows Fetch(std::string_view sql, const Params& params = {}) override;
  std::int64_t Execute(std::string_view sql, const Params& params = {}) override;

 private:
  std::unique_ptr<ConnectionDriver> connection_;
};

/// Returns `conninfo` with any password replaced by `****`, for logs and
/// errors. Handles both URIs and key=value strings.
std::string RedactConninfo(std::string_view conninfo);

}  // namespace pgq
