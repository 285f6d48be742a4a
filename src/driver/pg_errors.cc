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
    throw RuntimeError(Message(context, e.what()), {}, false, true);
  } catch (const pqxx::broken_connection& e) {
    std::string message = Message(context, e.what());
    throw ConnectionError(message + TlsHint(message));
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    const bool poisons = state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0;
    throw DatabaseError(Message(context, e.what()), state, RetryableSqlstate(state), poisons);
  } catch (const pqxx::usage_error& e) {
    throw LogicError(Message(context, e.what()));
  } catch (const std::exception& e) {
    throw RuntimeError(Message(context, e.what()));
  }
}

}  // namespace pgq::detail
