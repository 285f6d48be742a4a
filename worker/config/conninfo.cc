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

}  // namespace

std::string BuildConninfo(const DatabaseConfig& db) {
  std::string out;
  if (db.dsn_file) {
    const std::string dsn = TrimTrailingSpace(ReadSecretForConnect("dsn_file", *db.dsn_file));
    auto options = detail::ParseConninfo(dsn);
    if (!options) {
      throw ConnectionError("database.dsn_file: " + *db.dsn_file +
                            ": not a valid libpq connection string or URI");
    }
    std::set<std::string> seen;
    for (const auto& [key, value] : *options) {
      AppendConninfo(out, key, value);
      seen.insert(key);
    }
    // The DSN wins; the config fills in what it leaves out.
    if (db.sslmode && !seen.contains("sslmode")) AppendConninfo(out, "sslmode", *db.sslmode);
    if (!seen.contains("application_name")) {
      AppendConninfo(out, "application_name", db.application_name);
    }
    if (db.connect_timeout && !seen.contains("connect_timeout")) {
      AppendConninfo(out, "connect_timeout", ConnectTimeoutSeconds(*db.connect_timeout));
    }
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
  return out;
}

ConnectionOptions WorkerConfig::Connection() const {
  ConnectionOptions options;
  // A copy: the callback outlives this object (pools keep it).
  options.conninfo = [db = database] { return BuildConninfo(db); };
  return options;
}

}  // namespace pgq::worker
