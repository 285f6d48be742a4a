#pragma once
/// @file
/// Exception types thrown by pgq. Every error derives from pgq::Error, which
/// says whether retrying can help and whether the connection is still usable.

#include <stdexcept>
#include <string>
#include <vector>

namespace pgq {

/// Root of every pgq exception.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string sqlstate = {},
                 bool retryable = false, bool poisons_connection = false)
      : std::runtime_error(what),
        sqlstate_(std::move(sqlstate)),
        retryable_(retryable),
        poisons_connection_(poisons_connection) {}

  /// SQLSTATE of the server error behind this one, or empty.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  /// True when the same call may succeed if simply tried again.
  bool IsRetryable() const noexcept { return retryable_; }
  /// True when the connection that raised it must not be used again.
  bool PoisonsConnection() const noexcept { return poisons_connection_; }

 private:
  std::string sqlstate_;
  bool retryable_;
  bool poisons_connection_;
};

/// Misuse of the API: fix the calling code or the configuration.
class LogicError : public Error {
 public:
  using Error::Error;
};

/// The database, the network or the environment failed the task.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

/// A server-side SQL error (constraint, syntax, permission ...).
class DatabaseError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

/// The connection broke or could not be opened.
class ConnectionError : public RuntimeError {
 public:
  explicit ConnectionError(const std::string& what)
      : RuntimeError(what, {}, /*retryable=*/true, /*poisons=*/true) {}

 protected:
  ConnectionError(const std::string& what, std::string sqlstate, bool retryable = true)
      : RuntimeError(what, std::move(sqlstate), retryable, /*poisons=*/true) {}
};

/// The server cannot take the queue's writes on this connection: it is a hot
/// standby (in recovery) or read-only, is shutting down (57P01-57P03), or
/// cancelled the statement for a conflict with recovery. This happens during
/// a failover, or when a DNS name or virtual IP still points at the old
/// primary. The connection is discarded, never used again; a new connection
/// (libpq's target_session_attrs=read-write, which pgq adds when the
/// connection string does not choose) may reach the primary.
class ReadOnlyError : public ConnectionError {
 public:
  ReadOnlyError(const std::string& what, std::string sqlstate)
      : ConnectionError(what, std::move(sqlstate)) {}
};

/// A statement whose outcome is unknown: the connection was lost after it
/// was sent, before its result arrived. In autocommit (every pgq statement)
/// it may or may not have committed, so it is never retried blindly; an
/// enqueue with a dedupe key can be retried safely (docs/producers.md). A
/// ConnectionError: the connection is gone, the next call opens a new one.
class InDoubtError : public ConnectionError {
 public:
  explicit InDoubtError(const std::string& what)
      : ConnectionError(what, std::string{}, /*retryable=*/false) {}
};

/// A connection is not in the state the queue requires: autocommit (no open
/// transaction block) at the expected isolation level.
class ConnectionStateError : public RuntimeError {
 public:
  enum class Kind { kInTransaction, kIsolation };
  ConnectionStateError(Kind kind, const std::string& what)
      : RuntimeError(what, {}, false, /*poisons=*/true), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

/// No pooled connection became free within the acquire timeout.
class PoolTimeoutError : public RuntimeError {
 public:
  explicit PoolTimeoutError(const std::string& what)
      : RuntimeError(what, {}, /*retryable=*/true) {}
};

/// An enqueue with on_conflict=raise hit live jobs with the same dedupe key.
/// The whole batch was rejected; nothing was inserted.
class DuplicateJobError : public DatabaseError {
 public:
  DuplicateJobError(const std::string& what, std::vector<std::string> keys)
      : DatabaseError(what, "23505"), dedupe_keys_(std::move(keys)) {}
  const std::vector<std::string>& dedupe_keys() const noexcept {
    return dedupe_keys_;
  }

 private:
  std::vector<std::string> dedupe_keys_;
};

}  // namespace pgq
