#include "config/conninfo.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string_view>

#include "config/secret_files.h"
#include "driver/conninfo.h"
#include "pgq/error.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

using detail::AppendConninfo;

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

}  // namespace

std::string BuildConninfo(const DatabaseConfig& db, std::chrono::milliseconds statement_timeout) {
  std::string out;
  if (db.dsn_file) {
    const std::string dsn = TrimTrailingSpace(ReadSecretForConnect("dsn_file", *db.dsn_file));
    auto options = detail::ParseConninfo(dsn);
    if (!options) {
      throw ConnectionError("database.dsn_file: " + *db.dsn_file +
                            ": not a valid libpq connection string or URI");
    }
    std::set<std::string> seen;
    std::string startup_options;
    for (const auto& [key, value] : *options) {
      if (key == "options") {
        startup_options = value;
        continue;
      }
      AppendConninfo(out, key, value);
      seen.insert(key);
    }
    startup_options = WithStatementTimeout(std::move(startup_options), statement_timeout);
    if (!startup_options.empty()) AppendConninfo(out, "options", startup_options);
    // The DSN wins; the config fills in what it leaves out.
    if (db.sslmode && !seen.contains("sslmode")) AppendConninfo(out, "sslmode", *db.sslmode);
    if (!seen.contains("application_name")) {
      AppendConninfo(out, "application_name", db.application_name);
    }
    if (db.connect_timeout && !seen.contains("connect_timeout")) {
      AppendConninfo(out, "connect_timeout", ConnectTimeoutSeconds(*db.connect_timeout));
    }
    AppendTcpSettings(out, db, seen);
    return out;
  }
  if (db.host) AppendConninfo(out, "host", *db.host);
  if (db.port) AppendConninfo(out, "port", std::to_string(*db.port));
  if (db.dbname) AppendConninfo(out, "dbname", *db.dbname);
  if (db.user) AppendConninfo(out, "user", *db.user);
  if (db.password_file) {
    AppendConninfo(out, "password",
                   TrimPassword(ReadSecretForConnect("password_file", *db.password_file)));
  }
  if (db.sslmode) AppendConninfo(out, "sslmode", *db.sslmode);
  AppendConninfo(out, "application_name", db.application_name);
  if (db.connect_timeout) {
    AppendConninfo(out, "connect_timeout", ConnectTimeoutSeconds(*db.connect_timeout));
  }
  AppendTcpSettings(out, db, {});
  if (const auto options = WithStatementTimeout({}, statement_timeout); !options.empty()) {
    AppendConninfo(out, "options", options);
  }
  return out;
}

ConnectionOptions WorkerConfig::Connection() const {
  ConnectionOptions options;
  // A copy: the callback outlives this object (pools keep it).
  options.conninfo = [db = database] { return BuildConninfo(db, db.statement_timeout); };
  return options;
}

ConnectionOptions WorkerConfig::MigrationConnection() const {
  ConnectionOptions options;
  options.conninfo = [db = database] { return BuildConninfo(db, std::chrono::milliseconds(0)); };
  return options;
}

}  // namespace pgq::worker
