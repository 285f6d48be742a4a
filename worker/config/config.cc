#include "config/config.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "pgq/error.h"
#include "pgq/scheduler.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;
using Keys = std::vector<std::string_view>;

// ------------------------------------------------------------ key sets
// The schema of the file. docs/configuration.md documents each key; keep the
// two in step.

const Keys kTopKeys = {"database",  "pool", "queue",   "entrypoints",
                       "schedules", "http", "logging", "shutdown"};
const Keys kDatabaseKeys = {
    "host",          "port",    "dbname", "user", "sslmode", "application_name", "connect_timeout",
    "password_file", "dsn_file"};
const Keys kPoolKeys = {"min_size", "max_size", "acquire_timeout", "max_lifetime",
                        "health_check_interval"};
const Keys kQueueKeys = {"prefix",
                         "schema",
                         "channel",
                         "batch_size",
                         "dequeue_timeout",
                         "heartbeat_timeout",
                         "max_concurrent_tasks",
                         "mode",
                         "statistics_check_interval"};
const Keys kEntrypointKeys = {"handler", "concurrency_limit", "retry", "on_failure"};
const Keys kRetryKeys = {"max_attempts", "initial_delay", "max_delay", "multiplier"};
const Keys kScheduleKeys = {"cron", "handler", "clean_old"};
const Keys kHttpKeys = {"address", "port"};
const Keys kLoggingKeys = {"level", "format"};
const Keys kShutdownKeys = {"grace_period"};
// Every key a handler may have; which ones apply depends on `type`.
const Keys kHandlerKeys = {"type",      "command",  "env",     "url",    "headers",
                           "statement", "duration", "message", "timeout"};

const Keys kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
const Keys kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
const Keys kLogFormats = {"json", "text"};
const Keys kRunModes = {"continuous", "drain"};
const Keys kOnFailure = {"delete", "hold"};
const Keys kHandlerTypes = {"exec", "http", "sql", "noop", "sleep", "fail"};

const Keys& HandlerKeysFor(HandlerConfig::Type type) {
  static const Keys kExec = {"type", "command", "env", "timeout"};
  static const Keys kHttp = {"type", "url", "headers", "timeout"};
  static const Keys kSql = {"type", "statement", "timeout"};
  static const Keys kNoop = {"type"};
  static const Keys kSleep = {"type", "duration"};
  static const Keys kFail = {"type", "message"};
  switch (type) {
    case HandlerConfig::Type::kExec:
      return kExec;
    case HandlerConfig::Type::kHttp:
      return kHttp;
    case HandlerConfig::Type::kSql:
      return kSql;
    case HandlerConfig::Type::kNoop:
      return kNoop;
    case HandlerConfig::Type::kSleep:
      return kSleep;
    case HandlerConfig::Type::kFail:
      break;
  }
  return kFail;
}

std::string_view HandlerTypeName(HandlerConfig::Type type) {
  switch (type) {
    case HandlerConfig::Type::kExec:
      return "exec";
    case HandlerConfig::Type::kHttp:
      return "http";
    case HandlerConfig::Type::kSql:
      return "sql";
    case HandlerConfig::Type::kNoop:
      return "noop";
    case HandlerConfig::Type::kSleep:
      return "sleep";
    case HandlerConfig::Type::kFail:
      break;
  }
  return "fail";
}

// ------------------------------------------------------------ text helpers

std::string Join(const Keys& keys, std::string_view separator = ", ") {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += separator;
    out += key;
  }
  return out;
}

std::string JoinPath(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

// `text` in double quotes with C-style escapes, cut after 60 characters.
std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown++ == kMaxShown) {
      out += "...";
      break;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
          out += kHex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent swaps).
std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string UnknownKeyProblem(std::string_view key, const Keys& allowed) {
  const std::string lowered = AsciiLower(key);
  const std::size_t limit = key.size() <= 4 ? 1 : (key.size() <= 10 ? 2 : 3);
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : allowed) {
    const std::size_t distance = EditDistance(lowered, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  std::string problem = "unknown key " + Quote(key);
  if (!best.empty()) return problem + " (did you mean " + std::string(best) + "?)";
  return problem + " (valid keys: " + Join(allowed) + ")";
}

bool Contains(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Names whose values are treated as secret in Masked(): headers,
// environment variables, URL query parameters, `--name=value` arguments.
bool IsSensitiveName(std::string_view name) {
  static const Keys kMarkers = {"pass",   "secret",     "token",   "auth",     "key",
                                "cookie", "credential", "session", "signature"};
  const std::string lowered = AsciiLower(name);
  for (std::string_view marker : kMarkers) {
    if (lowered.find(marker) != std::string::npos) return true;
  }
  return false;
}

constexpr std::string_view kMask = "****";

// A URL with the userinfo password and sensitive query values replaced.
std::string MaskUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(out.find_first_of("/?#", start), out.size());
    const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, kMask);
      }
    }
  }
  const std::size_t query = out.find('?');
  if (query == std::string::npos) return out;
  std::string masked = out.substr(0, query + 1);
  std::size_t pos = query + 1;
  while (pos <= out.size()) {
    std::size_t next = out.find_first_of("&#", pos);
    if (next == std::string::npos) next = out.size();
    const std::string param = out.substr(pos, next - pos);
    const std::size_t eq = param.find('=');
    if (eq != std::string::npos && IsSensitiveName(param.substr(0, eq))) {
      masked += param.substr(0, eq + 1) + std::string(kMask);
    } else {
      masked += param;
    }
    if (next == out.size()) break;
    masked += out[next];
    if (out[next] == '#') {
      masked += out.substr(next + 1);
      break;
    }
    pos = next + 1;
  }
  return masked;
}

// One argv element with an obvious secret cut: `--password=x`, or a header
// line like `Authorization: Bearer x`.
std::string MaskArgument(std::string_view arg) {
  for (char separator : {'=', ':'}) {
    const std::size_t pos = arg.find(separator);
    if (pos == std::string_view::npos || pos == 0) continue;
    const std::string_view name = arg.substr(0, pos);
    if (name.find_first_of(" /") != std::string_view::npos) continue;
    if (IsSensitiveName(name)) {
      return std::string(arg.substr(0, pos + 1)) + (separator == ':' ? " " : "") +
             std::string(kMask);
    }
  }
  return std::string(arg);
}

// ------------------------------------------------------------ files

// Reads a whole file. Returns the errno value on failure, 0 on success.
int ReadWholeFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.clear();
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return 0;
}

std::string ErrnoText(int error) { return std::generic_category().message(error); }

// Password file content: one trailing newline (LF or CRLF) is not part of it.
std::string TrimPassword(std::string text) {
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  return text;
}

std::string TrimTrailingSpace(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

// The options a DSN sets explicitly (libpq parses both key=value strings
// and URIs); nullopt when libpq rejects it. libpq's error text is dropped:
// it may quote the DSN, password included.
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

// ------------------------------------------------------------ parser

// A node together with where errors about it point and its dotted key path.
struct Item {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

class Parser;

// A YAML mapping whose keys have been checked (strings, no duplicates, all
// in `allowed` unless that is empty), in document order.
class Mapping {
 public:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Item value;
  };

  Mapping(const Parser& parser, const Item& item, const Keys& allowed);

  std::optional<Item> Find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return entry.value;
    }
    return std::nullopt;
  }
  // Where an error about a missing key points: at the mapping, naming the key.
  Item Missing(std::string_view key) const {
    return {YAML::Node(), self_.mark, JoinPath(self_.path, key)};
  }
  const std::vector<Entry>& entries() const noexcept { return entries_; }
  const Item& self() const noexcept { return self_; }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  Item self_;
  std::vector<Entry> entries_;
};

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  if (node.Tag() != "?") return "the string " + Quote(node.Scalar());
  return Quote(node.Scalar());
}

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& problem) const {
    const bool known = !mark.is_null() && mark.line >= 0;
    throw ConfigError(file_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, path, problem);
  }
  [[noreturn]] void Fail(const Item& item, const std::string& problem) const {
    Fail(item.mark, item.path, problem);
  }

  // ---- scalars

  const std::string& Scalar(const Item& item, std::string_view expected) const {
    if (!item.node.IsScalar()) {
      Fail(item, "expected " + std::string(expected) + "; got " + Describe(item.node));
    }
    return item.node.Scalar();
  }
  // A scalar written plainly: numbers and booleans must not be quoted.
  const std::string& Plain(const Item& item, std::string_view expected) const {
    const std::string& text = Scalar(item, expected);
    if (item.node.Tag() != "?") {
      Fail(item, "expected " + std::string(expected) + "; got " + Describe(item.node));
    }
    return text;
  }

  std::string String(const Item& item) const { return Scalar(item, "a string"); }
  std::string NonEmptyString(const Item& item) const {
    std::string value = String(item);
    if (value.empty()) Fail(item, "must not be empty");
    return value;
  }

  std::int64_t Int(const Item& item) const {
    std::string_view text = Plain(item, "an integer");
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error == std::errc::invalid_argument || end != text.data() + text.size()) {
      Fail(item, "expected an integer; got " + Describe(item.node));
    }
    if (error == std::errc::result_out_of_range) {
      Fail(item, "integer out of range; got " + Describe(item.node));
    }
    return value;
  }
  std::int64_t IntAtLeast(const Item& item, std::int64_t minimum, std::string_view why = {}) const {
    const std::int64_t value = Int(item);
    if (value < minimum) {
      std::string problem = "must be >= " + std::to_string(minimum);
      if (!why.empty()) problem += " (" + std::string(why) + ")";
      Fail(item, problem + "; got " + std::to_string(value));
    }
    return value;
  }
  std::int64_t IntBetween(const Item& item, std::int64_t low, std::int64_t high) const {
    const std::int64_t value = Int(item);
    if (value < low || value > high) {
      Fail(item, "must be between " + std::to_string(low) + " and " + std::to_string(high) +
                     "; got " + std::to_string(value));
    }
    return value;
  }

  double Number(const Item& item) const {
    const std::string& text = Plain(item, "a number");
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
      Fail(item, "expected a number; got " + Describe(item.node));
    }
    return value;
  }

  bool Bool(const Item& item) const {
    const std::string& text = Plain(item, "true or false");
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    Fail(item, "expected true or false; got " + Describe(item.node));
  }

  milliseconds Duration(const Item& item) const {
    if (!item.node.IsScalar()) {
      Fail(item, "expected a duration like 500ms, 30s, 5m; got " + Describe(item.node));
    }
    try {
      return ParseDuration(item.node.Scalar());
    } catch (const std::invalid_argument& error) {
      Fail(item, error.what());
    }
  }
  milliseconds PositiveDuration(const Item& item) const {
    const milliseconds value = Duration(item);
    if (value.count() <= 0) Fail(item, "must be greater than 0s");
    return value;
  }

  std::string Enum(const Item& item, const Keys& choices) const {
    const std::string value = Scalar(item, "one of " + Join(choices));
    if (!Contains(choices, value)) {
      Fail(item, "expected one of " + Join(choices) + "; got " + Describe(item.node));
    }
    return value;
  }

  std::vector<std::string> StringList(const Item& item) const {
    if (item.node.IsNull() || !item.node.IsSequence()) {
      Fail(item, "expected a list of strings; got " + Describe(item.node));
    }
    std::vector<std::string> out;
    std::size_t index = 0;
    for (const YAML::Node& element : item.node) {
      const Item child{element, element.IsNull() ? item.mark : element.Mark(),
                       item.path + "[" + std::to_string(index++) + "]"};
      out.push_back(String(child));
    }
    return out;
  }

  std::map<std::string, std::string> StringMap(const Item& item) const;

  // A path to a secret file: it must exist and be readable now. Returns the
  // content so the caller can check it; never shown anywhere.
  std::string SecretFile(const Item& item, std::string& content) const {
    std::string path = NonEmptyString(item);
    if (int error = ReadWholeFile(path, content); error != 0) {
      Fail(item, "cannot read " + path + ": " + ErrnoText(error));
    }
    return path;
  }

 private:
  std::string file_;
};

Mapping::Mapping(const Parser& parser, const Item& item, const Keys& allowed) : self_(item) {
  if (item.node.IsNull()) return;  // `key:` with nothing = empty mapping
  if (!item.node.IsMap()) parser.Fail(item, "expected a mapping; got " + Describe(item.node));
  for (auto it = item.node.begin(); it != item.node.end(); ++it) {
    const YAML::Node key_node = it->first;  // a copy: `it->` yields a temporary
    const YAML::Mark key_mark = key_node.Mark();
    if (!key_node.IsScalar()) {
      parser.Fail(key_mark, item.path, "keys must be strings; got " + Describe(key_node));
    }
    const std::string key = key_node.Scalar();
    const std::string path = JoinPath(item.path, key);
    for (const Entry& entry : entries_) {
      if (entry.key == key) parser.Fail(key_mark, path, "duplicate key " + Quote(key));
    }
    if (!allowed.empty() && !Contains(allowed, key)) {
      parser.Fail(key_mark, path, UnknownKeyProblem(key, allowed));
    }
    const YAML::Node value = it->second;
    // yaml-cpp places an empty value at the next token: point at the key.
    entries_.push_back(
        {key, key_mark, Item{value, value.IsNull() ? key_mark : value.Mark(), path}});
  }
}

std::map<std::string, std::string> Parser::StringMap(const Item& item) const {
  std::map<std::string, std::string> out;
  const Mapping mapping(*this, item, {});
  for (const auto& entry : mapping.entries()) {
    if (entry.key.empty()) Fail(entry.key_mark, item.path, "names must not be empty");
    out[entry.key] = String(entry.value);
  }
  return out;
}

// ------------------------------------------------------------ sections

void ParseDatabase(const Parser& p, const Item& item, DatabaseConfig& db) {
  const Mapping m(p, item, kDatabaseKeys);
  if (auto v = m.Find("host")) db.host = p.NonEmptyString(*v);
  if (auto v = m.Find("port")) db.port = static_cast<int>(p.IntBetween(*v, 1, 65535));
  if (auto v = m.Find("dbname")) db.dbname = p.NonEmptyString(*v);
  if (auto v = m.Find("user")) db.user = p.NonEmptyString(*v);
  if (auto v = m.Find("sslmode")) db.sslmode = p.Enum(*v, kSslModes);
  if (auto v = m.Find("application_name")) db.application_name = p.String(*v);
  if (auto v = m.Find("connect_timeout")) db.connect_timeout = p.PositiveDuration(*v);
  const auto password_file = m.Find("password_file");
  const auto dsn_file = m.Find("dsn_file");
  if (dsn_file) {
    for (std::string_view key : {"host", "port", "dbname", "user", "password_file"}) {
      if (auto v = m.Find(key)) {
        p.Fail(v->mark, v->path,
               "cannot be combined with database.dsn_file (the DSN file holds the whole "
               "connection string)");
      }
    }
    std::string content;
    db.dsn_file = p.SecretFile(*dsn_file, content);
    content = TrimTrailingSpace(std::move(content));
    if (content.empty()) p.Fail(*dsn_file, "file " + *db.dsn_file + " is empty");
    if (!ParseDsn(content)) {
      p.Fail(*dsn_file, "file " + *db.dsn_file +
                            " is not a valid libpq connection string or URI (content not shown)");
    }
  }
  if (password_file) {
    std::string content;
    db.password_file = p.SecretFile(*password_file, content);
    if (TrimPassword(std::move(content)).empty()) {
      p.Fail(*password_file, "file " + *db.password_file + " is empty");
    }
  }
}

void ParsePool(const Parser& p, const Item& item, PoolSettings& pool) {
  const Mapping m(p, item, kPoolKeys);
  if (auto v = m.Find("max_size")) {
    pool.max_size = static_cast<std::size_t>(p.IntAtLeast(*v, 2, "the LISTEN connection counts"));
  }
  if (auto v = m.Find("min_size")) {
    const std::int64_t min_size = p.IntAtLeast(*v, 0);
    if (static_cast<std::size_t>(min_size) > pool.max_size) {
      p.Fail(*v, "must be <= pool.max_size (" + std::to_string(pool.max_size) + "); got " +
                     std::to_string(min_size));
    }
    pool.min_size = static_cast<std::size_t>(min_size);
  }
  if (auto v = m.Find("acquire_timeout")) pool.acquire_timeout = p.PositiveDuration(*v);
  if (auto v = m.Find("max_lifetime")) pool.max_lifetime = p.Duration(*v);
  if (auto v = m.Find("health_check_interval")) {
    pool.health_check_interval = p.PositiveDuration(*v);
  }
}

// The queue.prefix / schema / channel values as written (nullopt = unset).
struct QueueNames {
  std::optional<std::string> prefix, schema, channel;
};

constexpr std::string_view kIdentifierProblem = "must match ^[A-Za-z_][A-Za-z0-9_]*$";

QueueNames ParseQueue(const Parser& p, const Item& item, RunOptions& run) {
  const Mapping m(p, item, kQueueKeys);
  QueueNames names;
  if (auto v = m.Find("prefix")) {
    names.prefix = p.String(*v);
    if (!names.prefix->empty() && !IsIdentifier(*names.prefix)) {
      p.Fail(*v, std::string(kIdentifierProblem) + " or be empty; got " + Quote(*names.prefix));
    }
  }
  if (auto v = m.Find("schema")) {
    names.schema = p.String(*v);
    if (!names.schema->empty() && !IsIdentifier(*names.schema)) {
      p.Fail(*v, std::string(kIdentifierProblem) +
                     " (one unquoted name, no dots) or be empty; got " + Quote(*names.schema));
    }
  }
  if (auto v = m.Find("channel")) {
    names.channel = p.String(*v);
    if (!IsIdentifier(*names.channel)) {
      p.Fail(*v, std::string(kIdentifierProblem) + "; got " + Quote(*names.channel));
    }
  }
  if (auto v = m.Find("batch_size")) run.batch_size = p.IntAtLeast(*v, 1);
  if (auto v = m.Find("dequeue_timeout")) run.dequeue_timeout = p.PositiveDuration(*v);
  if (auto v = m.Find("heartbeat_timeout")) run.heartbeat_timeout = p.PositiveDuration(*v);
  if (auto v = m.Find("max_concurrent_tasks")) {
    const std::int64_t cap = p.IntAtLeast(*v, 0);
    if (cap == 0) {
      run.max_concurrent_tasks = std::nullopt;
    } else if (cap < 2 * run.batch_size) {
      p.Fail(*v, "must be 0 (unbounded) or >= 2 * queue.batch_size (" +
                     std::to_string(2 * run.batch_size) + "); got " + std::to_string(cap));
    } else {
      run.max_concurrent_tasks = cap;
    }
  }
  if (auto v = m.Find("mode")) {
    run.mode = p.Enum(*v, kRunModes) == "drain" ? RunMode::kDrain : RunMode::kContinuous;
  }
  if (auto v = m.Find("statistics_check_interval")) run.statistics_check_interval = p.Duration(*v);
  return names;
}

HandlerConfig ParseHandler(const Parser& p, const Item& item) {
  const Mapping m(p, item, kHandlerKeys);
  HandlerConfig handler;
  const auto type_item = m.Find("type");
  if (!type_item) {
    p.Fail(m.Missing("type"), "required (one of " + Join(kHandlerTypes) + ")");
  }
  const std::string type = p.Enum(*type_item, kHandlerTypes);
  static const std::map<std::string, HandlerConfig::Type, std::less<>> kTypes = {
      {"exec", HandlerConfig::Type::kExec},   {"http", HandlerConfig::Type::kHttp},
      {"sql", HandlerConfig::Type::kSql},     {"noop", HandlerConfig::Type::kNoop},
      {"sleep", HandlerConfig::Type::kSleep}, {"fail", HandlerConfig::Type::kFail}};
  handler.type = kTypes.at(type);
  const Keys& applicable = HandlerKeysFor(handler.type);
  for (const auto& entry : m.entries()) {
    if (!Contains(applicable, entry.key)) {
      p.Fail(entry.key_mark, entry.value.path,
             "does not apply to handler type " + type + " (its keys: " + Join(applicable) + ")");
    }
  }
  const auto required = [&](std::string_view key) {
    auto v = m.Find(key);
    if (!v) p.Fail(m.Missing(key), "required for handler type " + type);
    return *v;
  };
  switch (handler.type) {
    case HandlerConfig::Type::kExec: {
      const Item command = required("command");
      handler.command = p.StringList(command);
      if (handler.command.empty()) p.Fail(command, "must name a program (got an empty list)");
      if (handler.command.front().empty()) {
        p.Fail(Item{command.node[0], command.node[0].Mark(), command.path + "[0]"},
               "the program must not be empty");
      }
      if (auto v = m.Find("env")) {
        handler.env = p.StringMap(*v);
        const Mapping names(p, *v, {});
        for (const auto& entry : names.entries()) {
          if (entry.key.find('=') != std::string::npos) {
            p.Fail(entry.key_mark, entry.value.path,
                   "environment variable names must not contain \"=\"");
          }
        }
      }
      break;
    }
    case HandlerConfig::Type::kHttp: {
      const Item url = required("url");
      handler.url = p.String(url);
      if (handler.url.rfind("http://", 0) != 0 && handler.url.rfind("https://", 0) != 0) {
        p.Fail(url, "expected a URL starting with http:// or https://; got " +
                        Quote(MaskUrl(handler.url)));
      }
      if (auto v = m.Find("headers")) {
        handler.http_headers = p.StringMap(*v);
        const Mapping names(p, *v, {});
        for (const auto& entry : names.entries()) {
          if (entry.key.find_first_of(":\r\n ") != std::string::npos) {
            p.Fail(entry.key_mark, entry.value.path,
                   "header names must not contain ':', spaces or line breaks");
          }
          if (handler.http_headers[entry.key].find_first_of("\r\n") != std::string::npos) {
            p.Fail(entry.value, "header values must not contain line breaks");
          }
        }
      }
      break;
    }
    case HandlerConfig::Type::kSql:
      handler.statement = p.NonEmptyString(required("statement"));
      break;
    case HandlerConfig::Type::kSleep:
      handler.duration = p.Duration(required("duration"));
      break;
    case HandlerConfig::Type::kFail:
      if (auto v = m.Find("message")) handler.message = p.String(*v);
      break;
    case HandlerConfig::Type::kNoop:
      break;
  }
  if (auto v = m.Find("timeout")) handler.timeout = p.PositiveDuration(*v);
  return handler;
}

RetryPolicy ParseRetry(const Parser& p, const Item& item) {
  const Mapping m(p, item, kRetryKeys);
  RetryPolicy retry;
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  if (auto v = m.Find("max_attempts")) {
    const std::int64_t attempts = p.IntAtLeast(*v, 0);
    if (attempts > std::numeric_limits<std::int32_t>::max()) {
      p.Fail(*v, "must be <= " + std::to_string(std::numeric_limits<std::int32_t>::max()) +
                     "; got " + std::to_string(attempts));
    }
    retry.max_attempts = static_cast<std::int32_t>(attempts);
  }
  if (auto v = m.Find("initial_delay")) {
    retry.initial_delay = duration_cast<microseconds>(p.Duration(*v));
  }
  if (auto v = m.Find("max_delay")) {
    const milliseconds max_delay = p.Duration(*v);
    if (duration_cast<microseconds>(max_delay) < retry.initial_delay) {
      p.Fail(*v, "must be >= initial_delay (" +
                     FormatDuration(duration_cast<milliseconds>(retry.initial_delay)) + "); got " +
                     FormatDuration(max_delay));
    }
    retry.max_delay = duration_cast<microseconds>(max_delay);
  } else if (retry.max_delay < retry.initial_delay) {
    retry.max_delay = retry.initial_delay;
  }
  if (auto v = m.Find("multiplier")) {
    retry.multiplier = p.Number(*v);
    if (retry.multiplier < 1.0) p.Fail(*v, "must be >= 1; got " + Describe(v->node));
  }
  return retry;
}

void ParseEntrypoints(const Parser& p, const Mapping& root, std::vector<EntrypointConfig>& out) {
  const auto section = root.Find("entrypoints");
  if (!section) p.Fail(root.Missing("entrypoints"), "at least one entrypoint is required");
  const Mapping m(p, *section, {});
  if (m.empty()) p.Fail(*section, "at least one entrypoint is required");
  for (const auto& entry : m.entries()) {
    if (entry.key.empty())
      p.Fail(entry.key_mark, "entrypoints", "entrypoint names must not be empty");
    const Mapping e(p, entry.value, kEntrypointKeys);
    EntrypointConfig config;
    config.name = entry.key;
    const auto handler = e.Find("handler");
    if (!handler) p.Fail(e.Missing("handler"), "required");
    config.handler = ParseHandler(p, *handler);
    if (auto v = e.Find("concurrency_limit"))
      config.options.concurrency_limit = p.IntAtLeast(*v, 0);
    if (auto v = e.Find("on_failure")) {
      config.options.on_failure =
          p.Enum(*v, kOnFailure) == "hold" ? OnFailure::kHold : OnFailure::kDelete;
    }
    if (auto v = e.Find("retry")) config.options.retry = ParseRetry(p, *v);
    out.push_back(std::move(config));
  }
}

void ParseSchedules(const Parser& p, const Item& item, std::vector<ScheduleConfig>& out) {
  const Mapping m(p, item, {});
  for (const auto& entry : m.entries()) {
    if (entry.key.empty()) p.Fail(entry.key_mark, "schedules", "schedule names must not be empty");
    const Mapping s(p, entry.value, kScheduleKeys);
    ScheduleConfig config;
    config.name = entry.key;
    const auto cron = s.Find("cron");
    if (!cron) p.Fail(s.Missing("cron"), "required (e.g. \"0 3 * * *\")");
    config.cron = p.NonEmptyString(*cron);
    try {
      CronExpression::Parse(config.cron);
    } catch (const LogicError& error) {
      p.Fail(*cron, error.what());
    }
    const auto handler = s.Find("handler");
    if (!handler) p.Fail(s.Missing("handler"), "required");
    config.handler = ParseHandler(p, *handler);
    if (auto v = s.Find("clean_old")) config.clean_old = p.Bool(*v);
    out.push_back(std::move(config));
  }
}

// PGQUEUER_* from the environment first (with PgQueuer's legacy names), the
// config's queue.prefix / schema / channel where the environment is silent.
DBSettings::EnvLookup Layered(const EnvLookup& env, const QueueNames& names) {
  return [env, names](const char* name) -> std::optional<std::string> {
    const auto from_env = [&](const char* var) -> std::optional<std::string> {
      if (!env || var == nullptr) return std::nullopt;
      auto value = env(var);
      if (value && value->empty()) return std::nullopt;
      return value;
    };
    if (auto value = from_env(name)) return value;
    const std::string_view var(name);
    const auto config = [&](const std::optional<std::string>& value,
                            const char* legacy) -> std::optional<std::string> {
      // A legacy variable in the environment still beats the file.
      if (from_env(legacy)) return std::nullopt;
      return value;
    };
    if (var == "PGQUEUER_PREFIX") return config(names.prefix, nullptr);
    if (var == "PGQUEUER_SCHEMA") return config(names.schema, "DB_SCHEMA");
    if (var == "PGQUEUER_CHANNEL") return config(names.channel, "CHANNEL");
    return std::nullopt;
  };
}

WorkerConfig ParseDocument(const Parser& p, const YAML::Node& document, const std::string& file,
                           const EnvLookup& env) {
  WorkerConfig config;
  config.file = file;
  const Mapping root(p, Item{document, document.Mark(), ""}, kTopKeys);
  if (auto v = root.Find("database")) ParseDatabase(p, *v, config.database);
  if (auto v = root.Find("pool")) ParsePool(p, *v, config.pool);
  QueueNames names;
  if (auto v = root.Find("queue")) names = ParseQueue(p, *v, config.run);
  ParseEntrypoints(p, root, config.entrypoints);
  if (auto v = root.Find("schedules")) ParseSchedules(p, *v, config.schedules);
  if (auto v = root.Find("http")) {
    const Mapping m(p, *v, kHttpKeys);
    if (auto a = m.Find("address")) config.http.address = p.NonEmptyString(*a);
    if (auto a = m.Find("port")) config.http.port = static_cast<int>(p.IntBetween(*a, 1, 65535));
  }
  if (auto v = root.Find("logging")) {
    const Mapping m(p, *v, kLoggingKeys);
    if (auto a = m.Find("level")) config.logging.level = p.Enum(*a, kLogLevels);
    if (auto a = m.Find("format")) config.logging.json = p.Enum(*a, kLogFormats) == "json";
  }
  if (auto v = root.Find("shutdown")) {
    const Mapping m(p, *v, kShutdownKeys);
    if (auto a = m.Find("grace_period")) config.shutdown_grace = p.Duration(*a);
  }
  config.run.shutdown_grace = config.shutdown_grace;

  try {
    config.settings = DBSettings::FromEnv(Layered(env, names));
  } catch (const LogicError& error) {
    // The file's own values were checked above, so the environment is at fault.
    throw ConfigError(file, 0, 0, "", std::string(error.what()) + " (from the environment)");
  }
  return config;
}

// ------------------------------------------------------------ masked dump

void EmitDuration(YAML::Emitter& out, std::string_view key, milliseconds value) {
  out << YAML::Key << std::string(key) << YAML::Value << FormatDuration(value);
}

void EmitMaskedMap(YAML::Emitter& out, std::string_view key,
                   const std::map<std::string, std::string>& values) {
  if (values.empty()) return;
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : values) {
    out << YAML::Key << name << YAML::Value << (IsSensitiveName(name) ? std::string(kMask) : value);
  }
  out << YAML::EndMap;
}

void EmitHandler(YAML::Emitter& out, const HandlerConfig& handler) {
  out << YAML::Key << "handler" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << std::string(HandlerTypeName(handler.type));
  switch (handler.type) {
    case HandlerConfig::Type::kExec:
      out << YAML::Key << "command" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const std::string& arg : handler.command) out << MaskArgument(arg);
      out << YAML::EndSeq;
      EmitMaskedMap(out, "env", handler.env);
      EmitDuration(out, "timeout", handler.timeout);
      break;
    case HandlerConfig::Type::kHttp:
      out << YAML::Key << "url" << YAML::Value << MaskUrl(handler.url);
      EmitMaskedMap(out, "headers", handler.http_headers);
      EmitDuration(out, "timeout", handler.timeout);
      break;
    case HandlerConfig::Type::kSql:
      out << YAML::Key << "statement" << YAML::Value << handler.statement;
      EmitDuration(out, "timeout", handler.timeout);
      break;
    case HandlerConfig::Type::kSleep:
      EmitDuration(out, "duration", handler.duration);
      break;
    case HandlerConfig::Type::kFail:
      out << YAML::Key << "message" << YAML::Value << handler.message;
      break;
    case HandlerConfig::Type::kNoop:
      break;
  }
  out << YAML::EndMap;
}

}  // namespace

// ------------------------------------------------------------ public API

ConfigError::ConfigError(std::string file, int line, int column, std::string key_path,
                         std::string problem)
    : std::runtime_error([&] {
        std::string what = file;
        if (line > 0) what += ":" + std::to_string(line) + ":" + std::to_string(column);
        what += ": ";
        if (!key_path.empty()) what += key_path + ": ";
        return what + problem;
      }()),
      file_(std::move(file)),
      key_path_(std::move(key_path)),
      problem_(std::move(problem)),
      line_(line),
      column_(column) {}

std::chrono::milliseconds ParseDuration(const std::string& text) {
  const auto invalid = [&](std::string_view why = {}) -> std::invalid_argument {
    std::string message = "expected a duration like 500ms, 30s, 5m; got " + Quote(text);
    if (!why.empty()) message += " (" + std::string(why) + ")";
    return std::invalid_argument(message);
  };
  std::size_t pos = 0;
  const auto digits = [&] {
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    return std::string_view(text).substr(start, pos - start);
  };
  const std::string_view whole = digits();
  if (whole.empty()) throw invalid();
  std::string_view fraction;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    fraction = digits();
    if (fraction.empty()) throw invalid();
  }
  const std::string_view unit = std::string_view(text).substr(pos);
  std::int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60 * 1000;
  } else if (unit == "h") {
    unit_ms = 60 * 60 * 1000;
  } else if (unit.empty()) {
    throw invalid("a unit is required: ms, s, m or h");
  } else {
    throw invalid();
  }
  std::int64_t value = 0;
  if (std::from_chars(whole.data(), whole.data() + whole.size(), value).ec != std::errc() ||
      __builtin_mul_overflow(value, unit_ms, &value)) {
    throw invalid("too large");
  }
  if (!fraction.empty()) {
    if (fraction.size() > 9) throw invalid("finer than a millisecond");
    std::int64_t numerator = 0;
    std::from_chars(fraction.data(), fraction.data() + fraction.size(), numerator);
    std::int64_t denominator = 1;
    for (std::size_t i = 0; i < fraction.size(); ++i) denominator *= 10;
    const std::int64_t scaled = numerator * unit_ms;  // < 10^9 * 3.6e6: no overflow
    if (scaled % denominator != 0) throw invalid("finer than a millisecond");
    if (__builtin_add_overflow(value, scaled / denominator, &value)) throw invalid("too large");
  }
  return milliseconds(value);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
  if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

WorkerConfig ParseConfig(const std::string& yaml, const std::string& file, const EnvLookup& env) {
  const Parser parser(file);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& error) {
    parser.Fail(error.mark, "", "invalid YAML: " + error.msg);
  }
  if (documents.size() > 1) {
    parser.Fail(documents[1].Mark(), "", "expected a single YAML document; found a second one");
  }
  const YAML::Node document = documents.empty() ? YAML::Node() : documents.front();
  return ParseDocument(parser, document, file, env);
}

WorkerConfig LoadConfig(const std::string& path, const EnvLookup& env) {
  std::string yaml;
  if (int error = ReadWholeFile(path, yaml); error != 0) {
    throw ConfigError(path, 0, 0, "", "cannot read configuration file: " + ErrnoText(error));
  }
  return ParseConfig(yaml, path, env);
}

ConnectionOptions WorkerConfig::Connection() const {
  ConnectionOptions options;
  // A copy: the callback outlives this object (pools keep it).
  options.conninfo = [db = database] { return BuildConninfo(db); };
  return options;
}

std::string WorkerConfig::Masked() const {
  YAML::Emitter out;
  out << YAML::BeginMap;

  out << YAML::Key << "database" << YAML::Value << YAML::BeginMap;
  const auto emit_optional = [&](std::string_view key, const std::optional<std::string>& value) {
    if (value) out << YAML::Key << std::string(key) << YAML::Value << *value;
  };
  emit_optional("host", database.host);
  if (database.port) out << YAML::Key << "port" << YAML::Value << *database.port;
  emit_optional("dbname", database.dbname);
  emit_optional("user", database.user);
  emit_optional("sslmode", database.sslmode);
  out << YAML::Key << "application_name" << YAML::Value << database.application_name;
  if (database.connect_timeout) EmitDuration(out, "connect_timeout", *database.connect_timeout);
  // Paths only: the contents are never read here.
  emit_optional("password_file", database.password_file);
  emit_optional("dsn_file", database.dsn_file);
  out << YAML::EndMap;

  out << YAML::Key << "pool" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "min_size" << YAML::Value << pool.min_size;
  out << YAML::Key << "max_size" << YAML::Value << pool.max_size;
  EmitDuration(out, "acquire_timeout", pool.acquire_timeout);
  EmitDuration(out, "max_lifetime", pool.max_lifetime);
  EmitDuration(out, "health_check_interval", pool.health_check_interval);
  out << YAML::EndMap;

  out << YAML::Key << "queue" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "prefix" << YAML::Value << settings.prefix;
  out << YAML::Key << "schema" << YAML::Value << settings.schema;
  out << YAML::Key << "channel" << YAML::Value << settings.channel;
  out << YAML::Key << "batch_size" << YAML::Value << run.batch_size;
  EmitDuration(out, "dequeue_timeout", run.dequeue_timeout);
  EmitDuration(out, "heartbeat_timeout", run.heartbeat_timeout);
  out << YAML::Key << "max_concurrent_tasks" << YAML::Value << run.max_concurrent_tasks.value_or(0);
  out << YAML::Key << "mode" << YAML::Value
      << (run.mode == RunMode::kDrain ? "drain" : "continuous");
  EmitDuration(out, "statistics_check_interval", run.statistics_check_interval);
  out << YAML::EndMap;

  out << YAML::Key << "entrypoints" << YAML::Value << YAML::BeginMap;
  for (const EntrypointConfig& entrypoint : entrypoints) {
    out << YAML::Key << entrypoint.name << YAML::Value << YAML::BeginMap;
    EmitHandler(out, entrypoint.handler);
    out << YAML::Key << "concurrency_limit" << YAML::Value << entrypoint.options.concurrency_limit;
    out << YAML::Key << "on_failure" << YAML::Value
        << (entrypoint.options.on_failure == OnFailure::kHold ? "hold" : "delete");
    if (const auto& retry = entrypoint.options.retry) {
      using std::chrono::duration_cast;
      out << YAML::Key << "retry" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "max_attempts" << YAML::Value << retry->max_attempts;
      EmitDuration(out, "initial_delay", duration_cast<milliseconds>(retry->initial_delay));
      EmitDuration(out, "max_delay", duration_cast<milliseconds>(retry->max_delay));
      out << YAML::Key << "multiplier" << YAML::Value << retry->multiplier;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;

  if (!schedules.empty()) {
    out << YAML::Key << "schedules" << YAML::Value << YAML::BeginMap;
    for (const ScheduleConfig& schedule : schedules) {
      out << YAML::Key << schedule.name << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "cron" << YAML::Value << schedule.cron;
      EmitHandler(out, schedule.handler);
      out << YAML::Key << "clean_old" << YAML::Value << schedule.clean_old;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }

  out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "address" << YAML::Value << http.address;
  out << YAML::Key << "port" << YAML::Value << http.port;
  out << YAML::EndMap;

  out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << logging.level;
  out << YAML::Key << "format" << YAML::Value << (logging.json ? "json" : "text");
  out << YAML::EndMap;

  out << YAML::Key << "shutdown" << YAML::Value << YAML::BeginMap;
  EmitDuration(out, "grace_period", shutdown_grace);
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace pgq::worker
