#pragma once
// A hot standby of the throwaway test server: pg_basebackup -R from
// PGQ_TEST_DSN into a temporary directory, started on a free port. Real
// PostgreSQL in recovery, for the read-only and failover tests; Promote()
// turns it into a primary of its own. Nothing is cached: a base backup of
// the test cluster takes about a second.

#include <string>

namespace pgq::testing {

class StandbyServer {
 public:
  /// Starts the standby of the server at `primary_dsn` (a postgresql:// URI
  /// with host and port, as ci/lib/postgres.sh exports it). Check ok() and
  /// error() after construction.
  explicit StandbyServer(const std::string& primary_dsn);
  ~StandbyServer();
  StandbyServer(const StandbyServer&) = delete;
  StandbyServer& operator=(const StandbyServer&) = delete;

  bool ok() const { return error_.empty(); }
  /// What failed while starting, with the server log's tail.
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  /// postgresql://postgres@127.0.0.1:PORT/postgres plus `extra` query
  /// parameters ("target_session_attrs=any").
  std::string Dsn(const std::string& extra = "") const;
  /// pg_ctl promote, waiting until it accepts writes. False on failure.
  bool Promote();

 private:
  std::string AsOwner(const std::string& command) const;
  std::string dir_;
  std::string bindir_;
  int port_ = 0;
  std::string error_;
};

}  // namespace pgq::testing
