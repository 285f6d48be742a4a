#pragma once
// Worker configuration: a YAML file (mounted ConfigMap) plus secret files
// (mounted Secret), validated completely before any database connection.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/driver.h"
#include "pgq/pool.h"
#include "pgq/runtime.h"
#include "pgq/settings.h"

namespace pgq::worker {

/// A configuration error. what() reads
/// "FILE:LINE:COLUMN: KEY.PATH: problem" (line/column 1-based, from the YAML
/// node at fault; omitted when there is no node, e.g. an unreadable file;
/// "KEY.PATH: " omitted when there is no key, e.g. a YAML syntax error).
/// List items appear as `command[2]`. Never contains secret file contents.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string key_path, std::string problem);
  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  int column() const noexcept { return column_; }
  const std::string& key_path() const noexcept { return key_path_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string file_, key_path_, problem_;
  int line_, column_;
};

/// Where and how to connect: the keys `database:` and `database.listener:`
/// share. TLS files are paths (mounted Secrets/ConfigMaps) that libpq reads on
/// every connect, so a rotated CA or certificate is picked up on reconnect.
struct DatabaseEndpoint {
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> dbname;
  std::optional<std::string> user;
  std::optional<std::string> password_file;  // path; content read on every connect
  std::optional<std::string> sslmode;  // disable|allow|prefer|require|verify-ca|verify-full
  std::optional<std::string> sslrootcert;  // CA bundle (PEM) that signs the server certificate
  std::optional<std::string> sslcert;      // client certificate (PEM)
  std::optional<std::string> sslkey;       // client key (PEM; owner-only, or root-owned 0640)
  std::optional<std::string> sslcrl;       // certificate revocation list (PEM)
};

struct DatabaseConfig : DatabaseEndpoint {
  std::string application_name = "pgq-worker";
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::string> dsn_file;  // path; exclusive with host/port/dbname/user/password_file
  // Dead-peer detection (a blackholed network, a frozen server): TCP
  // keepalives and the kernel's user timeout. A DSN that sets them wins.
  bool keepalives = true;
  std::chrono::seconds keepalives_idle{10};
  std::chrono::seconds keepalives_interval{5};
  int keepalives_count = 3;
  std::chrono::milliseconds tcp_user_timeout{30000};  // 0: the kernel's default
  // Server-side limit for the worker's statements (sent as the `options`
  // startup parameter; not for migrations). 0: the server's or role's setting.
  std::chrono::milliseconds statement_timeout{0};
  /// Named prepared statements on pooled connections; false behind a
  /// transaction-mode PgBouncer without prepared-statement support (< 1.21).
  bool prepared_statements = true;
  /// LISTEN on another endpoint (e.g. straight to PostgreSQL while statements
  /// go through a transaction-mode PgBouncer); unset keys come from above.
  std::optional<DatabaseEndpoint> listener;
};

struct HandlerConfig {
  enum class Type { kExec, kHttp, kSql, kNoop, kSleep, kFail };
  Type type = Type::kNoop;
  // exec
  std::vector<std::string> command;                // argv, command[0] is the program
  std::map<std::string, std::string> env;          // extra environment
  std::map<std::string, std::string> env_files;    // variable -> file, read per run
  // http
  std::string url;
  std::map<std::string, std::string> http_headers;       // extra request headers
  std::map<std::string, std::string> http_header_files;  // header -> file, read per request
  // exec, http: inline env/headers values whose names look like credentials
  // are refused unless this is set (they belong in files, e.g. a Secret).
  bool allow_inline_secrets = false;
  // sql
  std::string statement;  // $1 = payload (bytea), $2 = headers (jsonb text)
  // sleep
  std::chrono::milliseconds duration{0};
  // fail
  std::string message = "configured to fail";
  // exec, http, sql
  std::chrono::milliseconds timeout{30000};
};

struct EntrypointConfig {
  std::string name;
  HandlerConfig handler;
  EntrypointOptions options;  // concurrency_limit, retry, on_failure
};

struct ScheduleConfig {
  std::string name;
  std::string cron;
  HandlerConfig handler;
  bool clean_old = false;
};

struct HttpConfig {
  std::string address = "0.0.0.0";
  int port = 9090;
};

/// `pgq web`: where the console listens and who may use it.
struct WebConfig {
  std::string address = "127.0.0.1";
  int port = 8080;
  /// Hide and refuse every action (requeue).
  bool read_only = false;
  /// HTTP Basic credentials, one secret file each (both or neither);
  /// required unless `address` is a loopback address.
  std::optional<std::string> username_file;
  std::optional<std::string> password_file;
  /// Bytes of a payload the job screen shows; 0 hides payloads.
  std::int64_t payload_preview = 4096;
  bool operator==(const WebConfig&) const = default;
};

/// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackAddress(std::string_view address);

struct LoggingConfig {
  std::string level = "info";  // trace|debug|info|warn|error|critical|off
  bool json = true;            // format: json | text
};

/// How `pgq migrate` treats a busy database (docs/configuration.md#migrations).
struct MigrationsConfig {
  /// How long each schema change may wait for its lock before it gives up
  /// and retries, so it never holds the fleet's claims in the lock queue.
  std::chrono::milliseconds lock_timeout{3000};
  /// Tries per schema change (including the first) before migrate fails.
  int attempts = 20;
};

struct WorkerConfig {
  std::string file;  // where it was loaded from
  DatabaseConfig database;
  PoolSettings pool;
  DBSettings settings;            // names (prefix, schema, channel ...)
  RunOptions run;                 // batch_size, timeouts, cap, mode
  std::vector<EntrypointConfig> entrypoints;
  std::vector<ScheduleConfig> schedules;
  HttpConfig http;
  WebConfig web;  // used by `pgq web` only
  LoggingConfig logging;
  MigrationsConfig migrations;
  std::chrono::milliseconds shutdown_grace{30000};

  /// Connection options whose conninfo callback re-reads the secret files on
  /// every new connection (so rotated passwords are picked up).
  ConnectionOptions Connection() const;
  /// Options for the LISTEN connection when `database.listener` is set.
  std::optional<ConnectionOptions> ListenerConnection() const;
  /// Without database.statement_timeout (schema changes wait for their locks
  /// and rewrite tables as long as they need), and on database.listener when
  /// set (the migration's advisory lock needs a session).
  ConnectionOptions MigrationConnection() const;
  /// The effective configuration as YAML with secrets masked (for the log).
  std::string Masked() const;
};

using EnvLookup = std::function<std::optional<std::string>(const char*)>;

/// Loads and validates a config file. PGQUEUER_* variables (through `env`)
/// override queue.prefix/schema/channel and the other object names, as in
/// PgQueuer. Checks that secret files exist and are readable. Throws
/// ConfigError.
WorkerConfig LoadConfig(const std::string& path, const EnvLookup& env);
/// Same, from YAML text (for tests); `file` names it in errors.
WorkerConfig ParseConfig(const std::string& yaml, const std::string& file, const EnvLookup& env);

/// "500ms", "30s", "5m", "1h", "1.5s"; throws std::invalid_argument.
std::chrono::milliseconds ParseDuration(const std::string& text);
/// The inverse: the largest unit that divides exactly ("1h", "90s",
/// "1500ms", "0s"), so ParseDuration(FormatDuration(d)) == d.
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace pgq::worker
