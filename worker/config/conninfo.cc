#include "config/conninfo.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "config/secret_files.h"
#include "pgq/conninfo.h"
#include "pgq/error.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

std::string ConnectTimeoutSeconds(milliseconds timeout) {
  const auto seconds = std::max<std::int64_t>(1, (timeout.count() + 999) / 1000);
  return std::to_string(seconds);
}

// Reads a secret file at connect time; failures are connection errors (the
// pool retries them) that name the key and the path, never the content.
std::string ReadSecretForConnect(std::string_view key, const std::string& path) {
  std::string content;
  if (int error = ReadWholeFile(path, content); error != 0) {
    throw ConnectionError("database." + std::string(key) + ": cannot read " + path + ": " +
                          ErrnoText(error));
  }
  return content;
}

std::string Seconds(std::chrono::seconds value) { return std::to_string(value.count()); }

// TCP keepalives and a user timeout, so a peer that vanished (a blackholed
// network, a frozen server) fails the connection within seconds instead of
// the kernel's two hours; a DSN that sets any of them keeps its own value.
void AppendTcpSettings(std::string& out, const DatabaseConfig& db,
                       const std::set<std::string>& seen) {
  const auto put = [&](const char* key, const std::string& value) {
    if (!seen.contains(key)) AppendConninfo(out, key, value);
  };
  put("keepalives", db.keepalives ? "1" : "0");
  if (db.keepalives) {
    put("keepalives_idle", Seconds(db.keepalives_idle));
    put("keepalives_interval", Seconds(db.keepalives_interval));
    put("keepalives_count", std::to_string(db.keepalives_count));
  }
  put("tcp_user_timeout", std::to_string(db.tcp_user_timeout.count()));
}

// The statement timeout travels in the `options` startup parameter, after
// whatever options a DSN already carries (the later -c wins on the server).
std::string WithStatementTimeout(std::string options, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return options;
  if (!options.empty()) options += ' ';
  return options + "-c statement_timeout=" + std::to_string(timeout.count());
}

// The TLS file keys, in the order they are written.
constexpr std::array<std::pair<std::string_view, std::optional<std::string> DatabaseEndpoint::*>, 4>
    kTlsFiles = {{{"sslrootcert", &DatabaseEndpoint::sslrootcert},
                  {"sslcert", &DatabaseEndpoint::sslcert},
                  {"sslkey", &DatabaseEndpoint::sslkey},
                  {"sslcrl", &DatabaseEndpoint::sslcrl}}};

// The endpoint's keys; `skip` says which ones a DSN already set.
void AppendEndpoint(std::string& out, const DatabaseEndpoint& e, const std::set<std::string>& skip,
                    std::string_view where) {
  auto put = [&](std::string_view key, const std::optional<std::string>& value) {
    if (value && !skip.contains(std::string(key))) AppendConninfo(out, key, *value);
  };
  put("host", e.host);
  if (e.port) put("port", std::to_string(*e.port));
  put("dbname", e.dbname);
  put("user", e.user);
  if (e.password_file) {
    put("password", TrimPassword(ReadSecretForConnect(
                        std::string(where) + "password_file", *e.password_file)));
  }
  put("sslmode", e.sslmode);
  // libpq reads these files itself on every connect (a rotated CA is picked up).
  for (const auto& [key, member] : kTlsFiles) put(key, e.*member);
}

}  // namespace

std::string BuildConninfo(const DatabaseConfig& db, std::chrono::milliseconds statement_timeout) {
  std::string out;
  std::set<std::string> seen;
  std::string startup_options;  // a DSN's own `options`, kept
  if (db.dsn_file) {
    const std::string dsn = TrimTrailingSpace(ReadSecretForConnect("dsn_file", *db.dsn_file));
    auto options = ParseConninfo(dsn);
    if (!options) {
      throw ConnectionError("database.dsn_file: " + *db.dsn_file +
                            ": not a valid libpq connection string or URI");
    }
    for (const auto& [key, value] : *options) {
      if (key == "options") {
        startup_options = value;
        continue;
      }
      AppendConninfo(out, key, value);
      seen.insert(key);
    }
  }
  // The DSN wins; the config fills in what it leaves out.
  AppendEndpoint(out, db, seen, "");
  if (!seen.contains("application_name")) {
    AppendConninfo(out, "application_name", db.application_name);
  }
  if (db.connect_timeout && !seen.contains("connect_timeout")) {
    AppendConninfo(out, "connect_timeout", ConnectTimeoutSeconds(*db.connect_timeout));
  }
  AppendTcpSettings(out, db, seen);
  startup_options = WithStatementTimeout(std::move(startup_options), statement_timeout);
  if (!startup_options.empty()) AppendConninfo(out, "options", startup_options);
  return out;
}

std::string BuildListenerConninfo(const DatabaseConfig& db,
                                  std::chrono::milliseconds statement_timeout) {
  // libpq takes the last value of a repeated keyword, so the listener's own
  // keys, appended after the main endpoint's, win.
  std::string out = BuildConninfo(db, statement_timeout);
  if (db.listener) AppendEndpoint(out, *db.listener, {}, "listener.");
  return out;
}

ConnectionOptions WorkerConfig::Connection() const {
  ConnectionOptions options;
  // A copy: the callback outlives this object (pools keep it).
  options.conninfo = [db = database] { return BuildConninfo(db, db.statement_timeout); };
  options.prepare_statements = database.prepared_statements;
  return options;
}

std::optional<ConnectionOptions> WorkerConfig::ListenerConnection() const {
  if (!database.listener) return std::nullopt;
  ConnectionOptions options;
  options.conninfo = [db = database] { return BuildListenerConninfo(db, db.statement_timeout); };
  return options;
}

ConnectionOptions WorkerConfig::MigrationConnection() const {
  ConnectionOptions options;
  // The migration's advisory lock is session state, which a transaction-mode
  // PgBouncer does not keep: with database.listener (the endpoint that keeps
  // sessions) it connects there.
  options.conninfo = [db = database] {
    return db.listener ? BuildListenerConninfo(db, std::chrono::milliseconds(0))
                       : BuildConninfo(db, std::chrono::milliseconds(0));
  };
  return options;
}

}  // namespace pgq::worker
