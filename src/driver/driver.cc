#include "pgq/driver.h"

#include <mutex>
#include <regex>

#include <pqxx/result>
#include <pqxx/transaction_base>
#include <spdlog/spdlog.h>

#include "driver/connection_core.h"
#include "driver/pg_errors.h"
#include "driver/session.h"
#include "pgq/conninfo.h"
#include "pgq/error.h"
#include "pgq/pqxx.h"
#include "sql/literals.h"

namespace pgq {

// ---------------------------------------------------------------- Rows

std::size_t Rows::Index(std::string_view column) const {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == column) return i;
  }
  throw LogicError("result has no column \"" + std::string(column) + "\"");
}

const std::string& Rows::Text(std::size_t row, std::string_view column) const {
  const auto& cell = At(row, column);
  if (!cell) throw LogicError("column \"" + std::string(column) + "\" is NULL");
  return *cell;
}

std::int64_t Rows::Int(std::size_t row, std::string_view column) const {
  return detail::ParseInt64(Text(row, column));
}

// ---------------------------------------------------------- requirements

void EnforceRequirements(const ConnectionState& state, const ConnectionRequirements& requirements,
                         std::string_view where) {
  if (state.in_transaction) {
    throw ConnectionStateError(
        ConnectionStateError::Kind::kInTransaction,
        std::string(where) +
            ": connection is inside a transaction block; the queue needs autocommit so that "
            "every claim and completion commits on its own (and row locks are not held)");
  }
  if (state.in_recovery || state.read_only) {
    const std::string server = state.server.empty() ? "the server" : "server " + state.server;
    throw ReadOnlyError(
        std::string(where) + ": " + server +
            (state.in_recovery ? " is read-only (in recovery)"
                               : " is read-only (transaction_read_only is on)") +
            "; the queue writes with every statement: connect to the primary "
            "(target_session_attrs=read-write, or the cluster's read-write endpoint)",
        "25006");
  }
  if (!state.isolation.empty() && state.isolation != requirements.isolation) {
    throw ConnectionStateError(
        ConnectionStateError::Kind::kIsolation,
        std::string(where) + ": transaction isolation is \"" + state.isolation +
            "\" but the queue requires \"" + requirements.isolation +
            "\"; FOR UPDATE SKIP LOCKED claims and the fleet-wide concurrency counts rely on "
            "it (check default_transaction_isolation for this database and role)");
  }
}

ConnectionOptions ConnectionOptions::FromDsn(std::string dsn) {
  ConnectionOptions options;
  options.conninfo = [dsn = std::move(dsn)] { return dsn; };
  return options;
}

std::string RedactConninfo(std::string_view conninfo) {
  const std::string text(conninfo);
  // Let libpq parse it (URIs with percent-encoding, backslash escapes,
  // quoting): what libpq would use as the password is what we must hide.
  if (auto options = ParseConninfo(text)) {
    bool has_password = false;
    std::string rebuilt;
    for (const auto& [key, value] : *options) {
      if (key == "password") has_password = true;
      AppendConninfo(rebuilt, key, key == "password" ? "****" : value);
    }
    return has_password ? rebuilt : text;
  }
  // Unparseable: best effort on the common spellings.
  std::string out = text;
  static const std::regex kUri(R"(^(postgres(?:ql)?://[^:/@]*:)([^@]*)(@))");
  out = std::regex_replace(out, kUri, "$1****$3");
  static const std::regex kPassword(R"((password\s*=\s*).*)", std::regex::icase);
  out = std::regex_replace(out, kPassword, "$1****");
  return out;
}

void Driver::Notify(std::string_view channel, std::string_view payload) {
  Fetch("SELECT pg_notify($1, $2)", {std::string(channel), std::string(payload)});
}

// ------------------------------------------------------ ConnectionDriver

namespace {

class ConnectionSubscription final : public Subscription {
 public:
  ConnectionSubscription(std::weak_ptr<detail::ConnectionCore> impl, std::string channel,
                         std::uint64_t id)
      : impl_(std::move(impl)), channel_(std::move(channel)), id_(id) {}
  ~ConnectionSubscription() override {
    if (auto impl = impl_.lock()) {
      try {
        impl->Unsubscribe(channel_, id_);
      } catch (const std::exception& e) {
        spdlog::warn("UNLISTEN {} failed: {}", channel_, e.what());
      }
    }
  }

 private:
  std::weak_ptr<detail::ConnectionCore> impl_;
  std::string channel_;
  std::uint64_t id_;
};

}  // namespace

ConnectionDriver::ConnectionDriver(ConnectionOptions options)
    : impl_(std::make_shared<detail::ConnectionCore>(std::move(options))) {
  std::scoped_lock lock(impl_->mu);
  impl_->EnsureSession();
}

ConnectionDriver::ConnectionDriver(std::shared_ptr<detail::ConnectionCore> impl)
    : impl_(std::move(impl)) {}

std::unique_ptr<ConnectionDriver> detail::ConnectionDriverGate::Wrap(
    std::shared_ptr<ConnectionCore> core) {
  return std::unique_ptr<ConnectionDriver>(new ConnectionDriver(std::move(core)));
}

ConnectionDriver::~ConnectionDriver() = default;

Rows ConnectionDriver::Fetch(std::string_view sql, const Params& params) {
  std::scoped_lock lock(impl_->mu);
  return impl_->WithSession("driver", [&](detail::Session& s) { return s.Fetch(sql, params); });
}

std::int64_t ConnectionDriver::Execute(std::string_view sql, const Params& params) {
  std::scoped_lock lock(impl_->mu);
  return impl_->WithSession("driver", [&](detail::Session& s) { return s.Execute(sql, params); });
}

std::unique_ptr<Subscription> ConnectionDriver::Listen(std::string_view channel_view,
                                                       NotificationCallback callback,
                                                       ReconnectCallback on_reconnect) {
  std::string channel(channel_view);
  std::uint64_t id = 0;
  {
    std::scoped_lock lock(impl_->callbacks_mu);
    id = impl_->next_id++;
    impl_->callbacks[channel].push_back({id, std::move(callback), std::move(on_reconnect)});
  }
  auto subscription = std::make_unique<ConnectionSubscription>(impl_, channel, id);
  {
    std::scoped_lock lock(impl_->mu);
    impl_->WithSession("listen", [&](detail::Session&) {
      impl_->Relisten();
      return 0;
    });
  }
  impl_->StartPump();
  impl_->Wake();
  return subscription;
}

bool ConnectionDriver::ListenerHealthy() const { return impl_->listening.load(); }

ConnectionState ConnectionDriver::Inspect() {
  std::scoped_lock lock(impl_->mu);
  auto& s = impl_->EnsureSession();
  return s.Inspect();
}

std::unique_ptr<ConnectionDriver> BorrowConnection(pqxx::connection_base& connection,
                                                   ConnectionRequirements requirements) {
  ConnectionOptions options;
  options.requirements = requirements;
  options.on_connect_sql.clear();
  auto impl = std::make_shared<detail::ConnectionCore>(std::move(options));
  impl->borrowed = true;
  impl->session = detail::Session::Borrow(connection);
  impl->ever_connected = true;
  EnforceRequirements(impl->session->Inspect(), requirements, "borrowed connection");
  return detail::ConnectionDriverGate::Wrap(std::move(impl));
}

// ------------------------------------------------------------ SyncDriver

SyncDriver::SyncDriver(ConnectionOptions options)
    : connection_(std::make_unique<ConnectionDriver>(std::move(options))) {}
SyncDriver::~SyncDriver() = default;

Rows SyncDriver::Fetch(std::string_view sql, const Params& params) {
  return connection_->Fetch(sql, params);
}
std::int64_t SyncDriver::Execute(std::string_view sql, const Params& params) {
  return connection_->Execute(sql, params);
}

// ------------------------------------------------- TransactionExecutor

namespace {

// Without parameters the simple protocol, as on pgq's own connections
// (session.cc): a string of several statements runs as one.
pqxx::result RunInTransaction(pqxx::transaction_base& tx, std::string_view sql,
                              const Params& params) {
  if (params.empty()) return tx.exec(std::string(sql));
  const auto pointers = detail::ParamPointers(params);
  return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers));
}

}  // namespace

Rows TransactionExecutor::Fetch(std::string_view sql, const Params& params) {
  try {
    return detail::ToRows(RunInTransaction(tx_, sql, params));
  } catch (...) {
    detail::RethrowAsPgq({});
  }
}

std::int64_t TransactionExecutor::Execute(std::string_view sql, const Params& params) {
  try {
    return RunInTransaction(tx_, sql, params).affected_rows();
  } catch (...) {
    detail::RethrowAsPgq({});
  }
}

}  // namespace pgq
