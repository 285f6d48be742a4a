#include "driver/pq_handle.h"

#include <libpq-fe.h>
#include <pqxx/connection_base>

namespace pgq::detail {
namespace {

// libpqxx 6.4 keeps its PGconn private and offers no transaction status.
// Naming a private member in an explicit instantiation is allowed
// ([temp.spec.general]/6), which lets us read the handle without patching
// libpqxx. Only PQtransactionStatus (a local, read-only call) uses it.
struct ConnHandle {
  using type = pqxx::internal::pq::PGconn* pqxx::connection_base::*;
  friend type Member(ConnHandle);
};

template <typename Tag, typename Tag::type M>
struct Expose {
  friend typename Tag::type Member(Tag) { return M; }
};

template struct Expose<ConnHandle, &pqxx::connection_base::m_conn>;

}  // namespace

TxStatus TransactionStatus(const pqxx::connection_base& connection) noexcept {
  const PGconn* handle = connection.*Member(ConnHandle{});
  if (handle == nullptr) return TxStatus::kUnknown;
  switch (PQtransactionStatus(handle)) {
    case PQTRANS_IDLE:
      return TxStatus::kIdle;
    case PQTRANS_ACTIVE:
      return TxStatus::kActive;
    case PQTRANS_INTRANS:
      return TxStatus::kInTransaction;
    case PQTRANS_INERROR:
      return TxStatus::kInError;
    default:
      return TxStatus::kUnknown;
  }
}

}  // namespace pgq::detail
