#include "driver/pg_errors.h"

#include <pqxx/except>

#include <string>

#include "pgq/error.h"

namespace pgq::detail {
namespace {

std::string Message(std::string_view context, const char* what) {
  std::string text(what);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (context.empty()) return text;
  return std::string(context) + ": " + text;
}

// libpq's TLS messages name the OpenSSL failure, not what to change; the hint
// says which setting is at fault. Never quotes the connection string.
std::string TlsHint(const std::string& text) {
  auto has = [&](const char* part) { return text.find(part) != std::string::npos; };
  if (has("certificate verify failed")) {
    return " [TLS: the server certificate does not verify against sslrootcert: signed by "
           "another CA, expired, or not yet valid]";
  }
  if (has("does not match host name")) {
    return " [TLS: the server certificate is not issued for the host name connected to "
           "(sslmode verify-full)]";
  }
  if (has("root certificate file")) {
    return " [TLS: set sslrootcert to the CA bundle that signs the server certificate]";
  }
  if (has("certificate required") || has("alert handshake failure") ||
      has("connection requires a valid client certificate")) {
    return " [TLS: the server requires a client certificate (sslcert and sslkey)]";
  }
  if (has("unknown ca") || has("bad certificate")) {
    return " [TLS: the server refused the client certificate (not signed by a CA it trusts)]";
  }
  return {};
}

bool Contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

// The server refuses the queue's writes on this session, or ends it because
// it is shutting down or recovering: the connection must go, and a new one
// may reach a primary. SQLSTATEs: 25006 read_only_sql_transaction ("cannot
// execute ... in a read-only transaction", and "cannot execute ... during
// recovery" on a hot standby), 57P01-57P03 admin/crash shutdown and
// cannot_connect_now. Recovery conflicts come as 40001 (most), 40P01 (buffer
// deadlock) or 57P04 (database dropped), told apart by their message.
bool ReadOnlySqlstate(const std::string& state, const std::string& text) {
  return state == "25006" || state == "57P01" || state == "57P02" || state == "57P03" ||
         Contains(text, "conflict with recovery") || Contains(text, "during recovery");
}

// The same conditions when libpq reports them while connecting (no SQLSTATE
// reaches libpqxx then): target_session_attrs=read-write found a standby or
// a read-only primary, or the server is starting, stopping or recovering.
bool ReadOnlyConnectMessage(const std::string& text) {
  return Contains(text, "session is read-only") || Contains(text, "in hot standby mode") ||
         Contains(text, "is in recovery mode") || Contains(text, "is starting up") ||
         Contains(text, "is shutting down") || Contains(text, "not yet accepting connections") ||
         Contains(text, "due to administrator command") ||
         Contains(text, "conflict with recovery") || Contains(text, "during recovery");
}

bool RetryableSqlstate(const std::string& state) {
  // serialization_failure, deadlock_detected, lock_not_available,
  // admin/crash shutdown and cannot_connect_now.
  return state == "40001" || state == "40P01" || state == "55P03" || state == "57P01" ||
         state == "57P02" || state == "57P03";
}

}  // namespace

void RethrowAsPgq(std::string_view context) {
  try {
    throw;
  } catch (const pgq::Error&) {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    // The statement may or may not have committed: never retried blindly.
    throw InDoubtError(Message(context, e.what()));
  } catch (const pqxx::broken_connection& e) {
    std::string message = Message(context, e.what());
    if (ReadOnlyConnectMessage(message)) {
      if (Contains(message, "session is read-only") || Contains(message, "hot standby mode")) {
        message += " [the server is read-only (in recovery, or default_transaction_read_only): "
                   "the queue needs the primary]";
      }
      throw ReadOnlyError(message, {});
    }
    throw ConnectionError(message + TlsHint(message));
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    if (ReadOnlySqlstate(state, e.what())) {
      std::string message = Message(context, e.what());
      if (!state.empty()) message += " (SQLSTATE " + state + ")";
      throw ReadOnlyError(message, state);
    }
    const bool poisons = state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0;
    throw DatabaseError(Message(context, e.what()), state, RetryableSqlstate(state), poisons);
  } catch (const pqxx::usage_error& e) {
    throw LogicError(Message(context, e.what()));
  } catch (const std::exception& e) {
    throw RuntimeError(Message(context, e.what()));
  }
}

void RethrowStatementAsPgq(std::string_view context) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    std::string message = Message(context, e.what());
    if (!ReadOnlyConnectMessage(message)) {
      throw InDoubtError(message +
                         " [in doubt: the connection was lost before the result arrived, so the "
                         "statement may or may not have committed]");
    }
    RethrowAsPgq(context);
  } catch (...) {
    RethrowAsPgq(context);
  }
}

}  // namespace pgq::detail
