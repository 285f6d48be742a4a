#include "config/conninfo.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string_view>

#include "config/secret_files.h"
#include "pgq/error.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

// `key='value'` with libpq's quoting (backslash before ' and \).
void AppendConninfo(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

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

// TCP keepalives and a user timeout, so a peer that vanished (a blackholed
// network, a frozen server) fails the connection within about 30 s instead
// of the kernel's two hours; a DSN that sets any of them keeps its own value.
void AppendTcpDefaults(std::string& out, const std::set<std::string>& seen) {
  static const std::pair<const char*, const char*> kDefaults[] = {
      {"keepalives", "1"},
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "3"},
      {"tcp_user_timeout", "30000"},
  };
  for (const auto& [key, value] : kDefaults) {
    if (!seen.contains(key)) AppendConninfo(out, key, value);
  }
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> ParseDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> set;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) set.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(options);
  return set;
}

std::string BuildConninfo(const DatabaseConfig& db) {
  std::string out;
  if (db.dsn_file) {
    const std::string dsn = TrimTrailingSpace(ReadSecretForConnect("dsn_file", *db.dsn_file));
    auto options = ParseDsn(dsn);
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
    AppendTcpDefaults(out, seen);
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
  AppendTcpDefaults(out, {});
  return out;
}

ConnectionOptions WorkerConfig::Connection() const {
  ConnectionOptions options;
  // A copy: the callback outlives this object (pools keep it).
  options.conninfo = [db = database] { return BuildConninfo(db); };
  return options;
}

}  // namespace pgq::worker
