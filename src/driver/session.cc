#include "driver/session.h"

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include <cstdlib>
#include <vector>

#include "driver/pg_errors.h"
#include "pgq/conninfo.h"
#include "pgq/error.h"
#include "driver/pq_handle.h"

namespace pgq::detail {

std::vector<const char*> ParamPointers(const Params& params) {
  std::vector<const char*> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(p ? p->c_str() : nullptr);
  return out;
}

Rows ToRows(const pqxx::result& result) {
  const auto ncols = static_cast<std::size_t>(result.columns());
  std::vector<std::string> columns;
  columns.reserve(ncols);
  for (pqxx::row::size_type c = 0; c < result.columns(); ++c) {
    columns.emplace_back(result.column_name(c));
  }
  std::vector<std::vector<Param>> values;
  values.reserve(result.size());
  for (const auto& row : result) {
    std::vector<Param> cells;
    cells.reserve(ncols);
    for (const auto& field : row) {
      if (field.is_null()) {
        cells.emplace_back(std::nullopt);
      } else {
        cells.emplace_back(std::string(field.c_str(), field.size()));
      }
    }
    values.push_back(std::move(cells));
  }
  return Rows(std::move(columns), std::move(values));
}

std::string WithReadWriteTarget(std::string conninfo) {
  // The caller chose (in the string or in libpq's environment variable):
  // theirs stands, and Inspect() still refuses a read-only session.
  if (std::getenv("PGTARGETSESSIONATTRS") != nullptr) return conninfo;
  const auto options = ParseConninfo(conninfo);
  if (!options) return conninfo;  // libpq reports what is wrong when connecting
  for (const auto& [key, value] : *options) {
    if (key == "target_session_attrs") return conninfo;
  }
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  if (uri) {
    conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
    conninfo += "target_session_attrs=read-write";
  } else {
    AppendConninfo(conninfo, "target_session_attrs", "read-write");
  }
  return conninfo;
}

Session::Session(std::unique_ptr<pqxx::connection> owned, pqxx::connection_base* connection)
    : owned_(std::move(owned)),
      connection_(connection),
      created_(std::chrono::steady_clock::now()) {}

Session::~Session() = default;

std::unique_ptr<Session> Session::Open(const ConnectionOptions& options) {
  std::unique_ptr<pqxx::connection> connection;
  try {
    // libpq (>= 14 also for a single host) then skips a standby or a
    // read-only server: the queue writes with every statement.
    connection = std::make_unique<pqxx::connection>(WithReadWriteTarget(options.conninfo()));
    // We replace broken connections ourselves (and re-read secrets when we
    // do); libpqxx's silent reactivation would hide that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    connection->inhibit_reactivation(true);  // deprecated in 6.4, still honoured
#pragma GCC diagnostic pop
    // pgq's strings are UTF-8, and the literals it writes into statements
    // (sql/literals.h QuoteLiteral) are safe only in an encoding where a 0x5C
    // byte is always a backslash; SJIS, BIG5, GBK and friends are not.
    if (connection->get_client_encoding() != "UTF8") connection->set_client_encoding("UTF8");
  } catch (...) {
    RethrowAsPgq("cannot connect to PostgreSQL");
  }
  auto* raw = connection.get();
  std::unique_ptr<Session> session(new Session(std::move(connection), raw));
  session->prepare_ = options.prepare_statements;
  if (!options.on_connect_sql.empty()) session->Execute(options.on_connect_sql, {});
  EnforceRequirements(session->Inspect(), options.requirements, "new connection");
  return session;
}

std::unique_ptr<Session> Session::Borrow(pqxx::connection_base& connection) {
  return std::unique_ptr<Session>(new Session(nullptr, &connection));
}

constexpr std::size_t kMaxPreparedStatements = 64;

const std::string* Session::PreparedName(std::string_view sql) {
  if (!prepare_) return nullptr;
  if (auto it = prepared_.find(sql); it != prepared_.end()) return &it->second;
  if (prepared_.size() >= kMaxPreparedStatements) return nullptr;
  std::string name = "pgq_" + std::to_string(prepared_.size());
  connection_->prepare(name, std::string(sql));
  return &prepared_.emplace(std::string(sql), std::move(name)).first->second;
}

pqxx::result Session::Run(std::string_view sql, const Params& params) {
  pqxx::nontransaction tx(*connection_);
  if (params.empty()) return tx.exec(std::string(sql));
  const auto pointers = ParamPointers(params);
  // Hot statements (claim, complete, heartbeat ...) are parsed and planned
  // once per connection instead of on every call.
  if (const std::string* name = PreparedName(sql)) {
    return tx.exec_prepared(*name, pqxx::prepare::make_dynamic_params(pointers));
  }
  return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers));
}

Rows Session::Fetch(std::string_view sql, const Params& params) {
  try {
    return ToRows(Run(sql, params));
  } catch (...) {
    RethrowStatementAsPgq({});
  }
}

std::int64_t Session::Execute(std::string_view sql, const Params& params) {
  try {
    return Run(sql, params).affected_rows();
  } catch (...) {
    RethrowStatementAsPgq({});
  }
}

bool Session::IsOpen() const noexcept { return connection_->is_open(); }

bool Session::InTransactionBlock() const noexcept {
  const auto status = TransactionStatus(*connection_);
  return status == TxStatus::kInTransaction || status == TxStatus::kInError;
}

int Session::Socket() const noexcept { return connection_->sock(); }

std::string Session::ServerName() const {
  try {
    const char* host = connection_->hostname();
    const char* port = connection_->port();
    std::string name = host != nullptr ? host : "";
    if (port != nullptr && *port != '\0') name += std::string(":") + port;
    return name;
  } catch (const std::exception&) {
    return {};
  }
}

void Session::EnforceNoTransaction(std::string_view where) const {
  if (InTransactionBlock()) {
    ConnectionState state;
    state.in_transaction = true;
    EnforceRequirements(state, {}, where);
  }
}

ConnectionState Session::Inspect() {
  ConnectionState state;
  state.in_transaction = InTransactionBlock();
  if (state.in_transaction) return state;  // an aborted block fails any query
  auto rows = Fetch(
      "SELECT current_setting('transaction_isolation') AS isolation, "
      "current_setting('transaction_read_only') AS read_only, pg_is_in_recovery() AS in_recovery",
      {});
  state.isolation = rows.Text(0, "isolation");
  state.read_only = rows.Text(0, "read_only") == "on";
  state.in_recovery = rows.Text(0, "in_recovery") == "t";
  state.server = ServerName();
  return state;
}

}  // namespace pgq::detail
