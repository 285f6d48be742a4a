#pragma once
// One libpqxx connection plus the checks the queue needs. Not thread-safe:
// owners (ConnectionDriver, ConnectionPool) serialise access.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

#include "pgq/driver.h"

namespace pgq::detail {

class Session {
 public:
  /// Opens a connection, runs options.on_connect_sql, and enforces the
  /// requirements. Throws ConnectionError / ConnectionStateError.
  static std::unique_ptr<Session> Open(const ConnectionOptions& options);
  /// Wraps a connection the caller owns (not closed by the session).
  static std::unique_ptr<Session> Borrow(pqxx::connection_base& connection);

  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Rows Fetch(std::string_view sql, const Params& params);
  std::int64_t Execute(std::string_view sql, const Params& params);

  /// Throws ConnectionStateError if libpq says a transaction block is open.
  void EnforceNoTransaction(std::string_view where) const;
  /// Local transaction status plus one `SHOW transaction_isolation`.
  ConnectionState Inspect();

  bool IsOpen() const noexcept;
  /// True when libpq reports an open (or failed) transaction block.
  bool InTransactionBlock() const noexcept;
  int Socket() const noexcept;
  /// "host:port" of the server this session reached (for messages).
  std::string ServerName() const;
  pqxx::connection_base& connection() noexcept { return *connection_; }
  std::chrono::steady_clock::time_point created() const noexcept { return created_; }

 private:
  Session(std::unique_ptr<pqxx::connection> owned, pqxx::connection_base* connection);
  pqxx::result Run(std::string_view sql, const Params& params);
  /// Name of the prepared statement for `sql`, preparing it on first use;
  /// nullopt when statements are not prepared (or the cache is full).
  const std::string* PreparedName(std::string_view sql);
  // pqxx::connection_base has no virtual destructor: own the concrete type.
  std::unique_ptr<pqxx::connection> owned_;
  pqxx::connection_base* connection_;
  std::chrono::steady_clock::time_point created_;
  bool prepare_ = false;
  // Statement text -> prepared statement name, per connection. Bounded so
  // that ad-hoc statements (e.g. user SQL handlers) cannot grow it forever.
  std::map<std::string, std::string, std::less<>> prepared_;
};

/// `conninfo` with target_session_attrs=read-write added when neither it nor
/// PGTARGETSESSIONATTRS chooses one (key=value strings and URIs).
std::string WithReadWriteTarget(std::string conninfo);

/// Converts a libpqxx result to text rows.
Rows ToRows(const class pqxx::result& result);

/// The C strings libpq binds for `params` (nullptr is SQL NULL); they point
/// into `params`, which must outlive them.
std::vector<const char*> ParamPointers(const Params& params);

}  // namespace pgq::detail
