#pragma once
// Local (no round trip) session facts from libpq for a libpqxx connection.

namespace pqxx {
class connection_base;
}

namespace pgq::detail {

enum class TxStatus { kIdle, kActive, kInTransaction, kInError, kUnknown };

/// libpq's PQtransactionStatus for the connection (kUnknown when closed).
TxStatus TransactionStatus(const pqxx::connection_base& connection) noexcept;

}  // namespace pgq::detail
