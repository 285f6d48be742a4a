#pragma once
/// @file
/// The part of the API that takes libpqxx objects from the caller: wrapping a
/// connection the caller owns, and enqueueing inside the caller's transaction
/// so that the job commits (and its NOTIFY fires) together with their data.

#include <memory>
#include <optional>
#include <vector>

#include <pqxx/connection_base>
#include <pqxx/transaction_base>

#include "pgq/driver.h"
#include "pgq/queries.h"

namespace pgq {

/// A Driver over a connection the caller owns and keeps alive longer than
/// the driver. The connection is checked at once (autocommit, isolation);
/// a connection that breaks is not re-opened.
std::unique_ptr<ConnectionDriver> BorrowConnection(
    pqxx::connection_base& connection, ConnectionRequirements requirements = {});

/// An Executor that runs statements inside `tx` (no autocommit: that is the
/// point). Use it with ProducerQueries for transactional enqueue.
class TransactionExecutor final : public Executor {
 public:
  explicit TransactionExecutor(pqxx::transaction_base& tx) : tx_(tx) {}
  Rows Fetch(std::string_view sql, const Params& params = {}) override;
  std::int64_t Execute(std::string_view sql, const Params& params = {}) override;

 private:
  pqxx::transaction_base& tx_;
};

}  // namespace pgq

#include "pgq/pgqueuer.h"

namespace pgq {

/// A PgQueuer over a libpqxx connection the caller owns (and keeps alive
/// longer than the PgQueuer). Statements and LISTEN share the connection.
std::unique_ptr<PgQueuer> PgQueuerFromConnection(
    pqxx::connection_base& connection, std::optional<std::string> channel = std::nullopt,
    std::shared_ptr<Resources> resources = nullptr, DBSettings settings = DBSettings::FromEnv());

}  // namespace pgq
