#include "config/config.h"
#include "config/config_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config_test_support.h"
#include "pgq/error.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using config_test::ConfigFilesTest;
using config_test::Env;
using config_test::LookupIn;
using config_test::ParseError;
using config_test::WithEntrypoint;
using config_test::kEntrypoint;
using config_test::kMarker;

// ---------------------------------------------------------------- bad inputs

struct BadInput {
  const char* name;
  std::string yaml;
  std::string expected;
  Env env = {};
};

std::ostream& operator<<(std::ostream& out, const BadInput& input) { return out << input.name; }

const std::vector<BadInput> kBadInputs = {
    {"yaml_syntax_error", "pool:\n  max_size: 4\n min_size: 2\n",
     "bad.yaml:3:2: invalid YAML: end of map not found"},
    {"yaml_unclosed_flow_list", "entrypoints:\n  x:\n    handler: {type: exec, command: [a, b}\n",
     "bad.yaml:3:41: invalid YAML: illegal flow end"},
    {"two_documents", WithEntrypoint("---\n") + "---\nqueue: {}\n",
     "bad.yaml:6:1: expected a single YAML document; found a second one"},
    {"top_level_list", "- queue\n- pool\n", "bad.yaml:1:1: expected a mapping; got a list"},
    {"unknown_top_level_key", WithEntrypoint("queues:\n  batch_size: 1\n"),
     "bad.yaml:1:1: queues: unknown key \"queues\" (did you mean queue?)"},
    {"unknown_nested_key_suggested", WithEntrypoint("queue:\n  batchsize: 5\n"),
     "bad.yaml:2:3: queue.batchsize: unknown key \"batchsize\" (did you mean batch_size?)"},
    {"unknown_nested_key_listed", WithEntrypoint("http:\n  bind: 0.0.0.0\n"),
     "bad.yaml:2:3: http.bind: unknown key \"bind\" (valid keys: address, port)"},
    {"unknown_retry_key",
     "entrypoints:\n  send_email:\n    handler: {type: noop}\n    retry:\n      attempts: 3\n",
     "bad.yaml:5:7: entrypoints.send_email.retry.attempts: unknown key \"attempts\" (valid keys: "
     "max_attempts, initial_delay, max_delay, multiplier)"},
    {"duplicate_key", WithEntrypoint("queue:\n  batch_size: 5\n  batch_size: 6\n"),
     "bad.yaml:3:3: queue.batch_size: duplicate key \"batch_size\""},
    {"section_not_a_mapping", WithEntrypoint("pool: 5\n"),
     "bad.yaml:1:7: pool: expected a mapping; got \"5\""},
    {"string_for_integer", WithEntrypoint("queue:\n  batch_size: ten\n"),
     "bad.yaml:2:15: queue.batch_size: expected an integer; got \"ten\""},
    {"quoted_integer", WithEntrypoint("pool:\n  max_size: \"10\"\n"),
     "bad.yaml:2:13: pool.max_size: expected an integer; got the string \"10\""},
    {"null_for_integer", WithEntrypoint("pool:\n  max_size:\n"),
     "bad.yaml:2:3: pool.max_size: expected an integer; got null"},
    {"map_for_list",
     "entrypoints:\n  x:\n    handler:\n      type: exec\n      command: {program: /bin/true}\n",
     "bad.yaml:5:16: entrypoints.x.handler.command: expected a list of strings; got a mapping"},
    {"list_item_not_a_string",
     "entrypoints:\n  x:\n    handler:\n      type: exec\n      command: [/bin/echo, a, [b]]\n",
     "bad.yaml:5:31: entrypoints.x.handler.command[2]: expected a string; got a list"},
    {"bad_duration",
     "entrypoints:\n  send_email:\n    handler: {type: noop}\n    retry:\n"
     "      initial_delay: 5 minutes\n",
     "bad.yaml:5:22: entrypoints.send_email.retry.initial_delay: expected a duration like 500ms, "
     "30s, 5m; got \"5 minutes\""},
    {"plain_number_duration", WithEntrypoint("queue:\n  dequeue_timeout: 30\n"),
     "bad.yaml:2:20: queue.dequeue_timeout: expected a duration like 500ms, 30s, 5m; got \"30\" "
     "(a unit is required: ms, s, m, h or d)"},
    {"zero_duration", WithEntrypoint("pool:\n  acquire_timeout: 0s\n"),
     "bad.yaml:2:20: pool.acquire_timeout: must be greater than 0s"},
    {"zero_connect_timeout", WithEntrypoint("database:\n  connect_timeout: 0ms\n"),
     "bad.yaml:2:20: database.connect_timeout: must be greater than 0s"},
    {"zero_batch_size", WithEntrypoint("queue:\n  batch_size: 0\n"),
     "bad.yaml:2:15: queue.batch_size: must be >= 1; got 0"},
    {"negative_concurrency_limit",
     "entrypoints:\n  x:\n    handler: {type: noop}\n    concurrency_limit: -1\n",
     "bad.yaml:4:24: entrypoints.x.concurrency_limit: must be >= 0; got -1"},
    {"negative_max_attempts",
     "entrypoints:\n  x:\n    handler: {type: noop}\n    retry: {max_attempts: -3}\n",
     "bad.yaml:4:27: entrypoints.x.retry.max_attempts: must be >= 0; got -3"},
    {"multiplier_below_one",
     "entrypoints:\n  x:\n    handler: {type: noop}\n    retry: {multiplier: 0.5}\n",
     "bad.yaml:4:25: entrypoints.x.retry.multiplier: must be >= 1; got \"0.5\""},
    {"max_delay_below_initial_delay",
     "entrypoints:\n  x:\n    handler: {type: noop}\n    retry: {initial_delay: 1m, max_delay: "
     "30s}\n",
     "bad.yaml:4:43: entrypoints.x.retry.max_delay: must be >= initial_delay (1m); got 30s"},
    {"max_size_1", WithEntrypoint("pool:\n  max_size: 1\n"),
     "bad.yaml:2:13: pool.max_size: must be >= 2 (the LISTEN connection counts); got 1"},
    {"min_size_above_max_size", WithEntrypoint("pool:\n  min_size: 8\n  max_size: 4\n"),
     "bad.yaml:2:13: pool.min_size: must be <= pool.max_size (4); got 8"},
    {"cap_below_twice_batch",
     WithEntrypoint("queue:\n  batch_size: 10\n  max_concurrent_tasks: 15\n"),
     "bad.yaml:3:25: queue.max_concurrent_tasks: must be 0 (unbounded) or >= 2 * "
     "queue.batch_size (20); got 15"},
    {"bad_prefix", WithEntrypoint("queue:\n  prefix: my-app\n"),
     "bad.yaml:2:11: queue.prefix: must match ^[A-Za-z_][A-Za-z0-9_]*$ or be empty; got "
     "\"my-app\""},
    {"bad_queue_mode", WithEntrypoint("queue:\n  mode: forever\n"),
     "bad.yaml:2:9: queue.mode: expected one of continuous, drain; got \"forever\""},
    {"bad_on_failure", "entrypoints:\n  x:\n    handler: {type: noop}\n    on_failure: retry\n",
     "bad.yaml:4:17: entrypoints.x.on_failure: expected one of delete, hold; got \"retry\""},
    {"bad_log_level", WithEntrypoint("logging:\n  level: verbose\n"),
     "bad.yaml:2:10: logging.level: expected one of trace, debug, info, warn, error, critical, "
     "off; "
     "got \"verbose\""},
    {"bad_log_format", WithEntrypoint("logging:\n  format: xml\n"),
     "bad.yaml:2:11: logging.format: expected one of json, text; got \"xml\""},
    {"bad_sslmode", WithEntrypoint("database:\n  sslmode: on\n"),
     "bad.yaml:2:12: database.sslmode: expected one of disable, allow, prefer, require, verify-ca, "
     "verify-full; got \"on\""},
    {"bad_bool",
     WithEntrypoint("schedules:\n  tick:\n    cron: \"* * * * *\"\n    handler: {type: noop}\n"
                    "    clean_old: yes\n"),
     "bad.yaml:5:16: schedules.tick.clean_old: expected true or false; got \"yes\""},
    {"missing_handler", "entrypoints:\n  x:\n    on_failure: hold\n",
     "bad.yaml:3:5: entrypoints.x.handler: required"},
    {"missing_handler_type", "entrypoints:\n  x:\n    handler: {command: [a]}\n",
     "bad.yaml:3:14: entrypoints.x.handler.type: required (one of exec, http, sql, noop, sleep, "
     "fail)"},
    {"bad_handler_type", "entrypoints:\n  x:\n    handler: {type: shell}\n",
     "bad.yaml:3:21: entrypoints.x.handler.type: expected one of exec, http, sql, noop, sleep, "
     "fail; got \"shell\""},
    {"exec_without_command", "entrypoints:\n  x:\n    handler: {type: exec}\n",
     "bad.yaml:3:14: entrypoints.x.handler.command: required for handler type exec"},
    {"exec_empty_command", "entrypoints:\n  x:\n    handler: {type: exec, command: []}\n",
     "bad.yaml:3:36: entrypoints.x.handler.command: must name a program (got an empty list)"},
    {"inline_authorization_header",
     "entrypoints:\n  hook:\n    handler:\n      type: http\n      url: https://h.example/\n"
     "      headers: {Authorization: Bearer x}\n",
     "bad.yaml:6:17: entrypoints.hook.handler.headers.Authorization: looks like a credential: put "
     "the value in a file (e.g. a mounted Secret) and name it under headers_from_files, or set "
     "allow_inline_secrets: true"},
    {"inline_token_env",
     "entrypoints:\n  x:\n    handler:\n      type: exec\n      command: [tool]\n"
     "      env: {MODE: fast, API_TOKEN: x}\n",
     "bad.yaml:6:25: entrypoints.x.handler.env.API_TOKEN: looks like a credential: put the value "
     "in a file (e.g. a mounted Secret) and name it under env_from_files, or set "
     "allow_inline_secrets: true"},
    {"header_file_missing",
     "entrypoints:\n  hook:\n    handler:\n      type: http\n      url: https://h.example/\n"
     "      headers_from_files: {Authorization: /nonexistent/pgq-token}\n",
     "bad.yaml:6:43: entrypoints.hook.handler.headers_from_files.Authorization: cannot read "
     "/nonexistent/pgq-token: No such file or directory"},
    {"http_without_url",
     "entrypoints:\n  hook:\n    handler:\n      type: http\n      timeout: 5s\n",
     "bad.yaml:4:7: entrypoints.hook.handler.url: required for handler type http"},
    {"http_bad_url_masked",
     "entrypoints:\n  hook:\n    handler: {type: http, url: \"ftp://bob:hunter2@files/x\"}\n",
     "bad.yaml:3:32: entrypoints.hook.handler.url: expected a URL starting with http:// or "
     "https://; got \"ftp://bob:****@files/x\""},
    {"sql_without_statement", "entrypoints:\n  x:\n    handler: {type: sql}\n",
     "bad.yaml:3:14: entrypoints.x.handler.statement: required for handler type sql"},
    {"sleep_without_duration", "entrypoints:\n  x:\n    handler: {type: sleep}\n",
     "bad.yaml:3:14: entrypoints.x.handler.duration: required for handler type sleep"},
    {"key_for_other_handler_type", "entrypoints:\n  x:\n    handler: {type: noop, url: x}\n",
     "bad.yaml:3:27: entrypoints.x.handler.url: does not apply to handler type noop (its keys: "
     "type)"},
    {"bad_cron",
     WithEntrypoint(
         "schedules:\n  nightly:\n    cron: \"61 3 * * *\"\n    handler: {type: noop}\n"),
     "bad.yaml:3:11: schedules.nightly.cron: cron minute: 61 is outside 0-59"},
    {"dsn_file_with_host", WithEntrypoint("database:\n  host: db\n  dsn_file: /run/secrets/dsn\n"),
     "bad.yaml:2:9: database.host: cannot be combined with database.dsn_file (the DSN file holds "
     "the whole connection string)"},
    {"dsn_file_with_password_file",
     WithEntrypoint("database:\n  dsn_file: /run/secrets/dsn\n  password_file: /run/secrets/pw\n"),
     "bad.yaml:3:18: database.password_file: cannot be combined with database.dsn_file (the DSN "
     "file holds the whole connection string)"},
    {"missing_secret_file",
     WithEntrypoint("database:\n  password_file: /nonexistent/pgq/password\n"),
     "bad.yaml:2:18: database.password_file: cannot read /nonexistent/pgq/password: No such file "
     "or directory"},
    {"database_port_0", WithEntrypoint("database:\n  port: 0\n"),
     "bad.yaml:2:9: database.port: must be between 1 and 65535; got 0"},
    {"http_port_70000", WithEntrypoint("http:\n  port: 70000\n"),
     "bad.yaml:2:9: http.port: must be between 1 and 65535; got 70000"},
    {"empty_entrypoints", "entrypoints: {}\n",
     "bad.yaml:1:14: entrypoints: at least one entrypoint is required"},
    {"missing_entrypoints", "http:\n  port: 9090\n",
     "bad.yaml:1:1: entrypoints: at least one entrypoint is required"},
    {"empty_file", "", "bad.yaml: entrypoints: at least one entrypoint is required"},
    {"empty_entrypoint_name", "entrypoints:\n  \"\":\n    handler: {type: noop}\n",
     "bad.yaml:2:3: entrypoints: entrypoint names must not be empty"},
    {"keepalive_not_whole_seconds", WithEntrypoint("database:\n  keepalives_idle: 1500ms\n"),
     "bad.yaml:2:20: database.keepalives_idle: must be whole seconds (libpq counts keepalive "
     "times in seconds); got 1500ms"},
    {"keepalive_count_zero", WithEntrypoint("database:\n  keepalives_count: 0\n"),
     "bad.yaml:2:21: database.keepalives_count: must be between 1 and 100; got 0"},
    {"sql_timeout_over_statement_timeout",
     "database:\n  statement_timeout: 10s\nentrypoints:\n  audit:\n    handler:\n"
     "      type: sql\n      statement: SELECT 1\n      timeout: 1m\n",
     "bad.yaml:8:16: entrypoints.audit.handler.timeout: 1m is longer than "
     "database.statement_timeout (10s): the server would cancel the statement first; lower "
     "this timeout or raise database.statement_timeout (0s: no limit)"},
    {"sql_default_timeout_over_statement_timeout",
     "database:\n  statement_timeout: 5s\nschedules:\n  nightly:\n    cron: '* * * * *'\n"
     "    handler: {type: sql, statement: SELECT 1}\n" + std::string(kEntrypoint),
     "bad.yaml:6:14: schedules.nightly.handler.timeout: 30s (the default) is longer than "
     "database.statement_timeout (5s): the server would cancel the statement first; lower "
     "this timeout or raise database.statement_timeout (0s: no limit)"},
    {"bad_environment_prefix",
     WithEntrypoint("queue:\n  prefix: app_\n"),
     "bad.yaml: invalid PGQUEUER_PREFIX \"bad-prefix\": must match ^[A-Za-z_][A-Za-z0-9_]*$ (from "
     "the environment)",
     {{"PGQUEUER_PREFIX", "bad-prefix"}}},
};

class ConfigBadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(ConfigBadInputTest, ExactMessage) {
  const BadInput& input = GetParam();
  EXPECT_EQ(ParseError(input.yaml, input.env), input.expected) << "YAML:\n" << input.yaml;
}

INSTANTIATE_TEST_SUITE_P(ConfigBadInputs, ConfigBadInputTest, ::testing::ValuesIn(kBadInputs),
                         [](const ::testing::TestParamInfo<BadInput>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST(ConfigErrorTest, CarriesItsParts) {
  try {
    ParseConfig(WithEntrypoint("queue:\n  batch_size: 0\n"), "w.yaml", LookupIn({}));
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.file(), "w.yaml");
    EXPECT_EQ(error.line(), 2);
    EXPECT_EQ(error.column(), 15);
    EXPECT_EQ(error.key_path(), "queue.batch_size");
    EXPECT_EQ(error.problem(), "must be >= 1; got 0");
  }
}

TEST(ConfigErrorTest, FormatWithoutPosition) {
  EXPECT_STREQ(ConfigError("w.yaml", 0, 0, "", "cannot read configuration file: oops").what(),
               "w.yaml: cannot read configuration file: oops");
  EXPECT_STREQ(ConfigError("w.yaml", 3, 7, "a.b", "bad").what(), "w.yaml:3:7: a.b: bad");
}

// ---------------------------------------------------------------- files

// A fresh directory under $TMPDIR for each test, removed afterwards.
TEST_F(ConfigFilesTest, ExampleFileParses) {
  const std::string password = Write("password", std::string(kMarker) + "\n");
  const std::string path = Write("worker.yaml", ExampleWithPassword(password));
  const WorkerConfig config = LoadConfig(path, LookupIn({}));

  EXPECT_EQ(config.file, path);
  EXPECT_EQ(config.database.host, "localhost");
  EXPECT_EQ(config.database.port, 5432);
  EXPECT_EQ(config.database.dbname, "postgres");
  EXPECT_EQ(config.database.user, "postgres");
  EXPECT_EQ(config.database.sslmode, "prefer");
  EXPECT_EQ(config.database.application_name, "pgq-worker");
  EXPECT_EQ(config.database.connect_timeout, milliseconds(5000));
  EXPECT_EQ(config.database.password_file, password);
  EXPECT_EQ(config.database.dsn_file, std::nullopt);

  EXPECT_EQ(config.pool.min_size, 1u);
  EXPECT_EQ(config.pool.max_size, 10u);
  EXPECT_EQ(config.pool.acquire_timeout, milliseconds(5000));
  EXPECT_EQ(config.pool.max_lifetime, std::chrono::minutes(30));
  EXPECT_EQ(config.pool.health_check_interval, std::chrono::seconds(30));

  EXPECT_EQ(config.settings, DBSettings::WithPrefix(""));
  EXPECT_EQ(config.run.batch_size, 10);
  EXPECT_EQ(config.run.dequeue_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config.run.heartbeat_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config.run.max_concurrent_tasks, std::nullopt);
  EXPECT_EQ(config.run.mode, RunMode::kContinuous);
  EXPECT_EQ(config.run.statistics_check_interval, std::chrono::seconds(5));
  EXPECT_EQ(config.run.shutdown_grace, std::chrono::seconds(30));
  EXPECT_EQ(config.shutdown_grace, std::chrono::seconds(30));

  ASSERT_EQ(config.entrypoints.size(), 4u);
  // YAML order, not alphabetical.
  EXPECT_EQ(config.entrypoints[0].name, "demo.hello");
  EXPECT_EQ(config.entrypoints[1].name, "webhook");
  EXPECT_EQ(config.entrypoints[2].name, "audit");
  EXPECT_EQ(config.entrypoints[3].name, "demo.noop");

  const EntrypointConfig& hello = config.entrypoints[0];
  EXPECT_EQ(hello.handler.type, HandlerConfig::Type::kExec);
  EXPECT_EQ(hello.handler.command, (std::vector<std::string>{"/bin/sh", "-c", "cat >/dev/null"}));
  EXPECT_EQ(hello.handler.timeout, std::chrono::seconds(30));
  EXPECT_EQ(hello.options.concurrency_limit, 0);
  EXPECT_EQ(hello.options.on_failure, OnFailure::kDelete);
  ASSERT_TRUE(hello.options.retry.has_value());
  EXPECT_EQ(hello.options.retry->max_attempts, 0);
  EXPECT_EQ(hello.options.retry->initial_delay, std::chrono::seconds(1));
  EXPECT_EQ(hello.options.retry->max_delay, std::chrono::minutes(5));
  EXPECT_EQ(hello.options.retry->multiplier, 2.0);

  const EntrypointConfig& webhook = config.entrypoints[1];
  EXPECT_EQ(webhook.handler.type, HandlerConfig::Type::kHttp);
  EXPECT_EQ(webhook.handler.url, "http://receiver.internal/hook");
  EXPECT_EQ(webhook.handler.timeout, std::chrono::seconds(10));
  EXPECT_FALSE(webhook.options.retry.has_value());

  EXPECT_EQ(config.entrypoints[2].handler.type, HandlerConfig::Type::kSql);
  EXPECT_EQ(config.entrypoints[2].handler.statement,
            "INSERT INTO audit(body, headers) VALUES ($1, $2::jsonb)");
  EXPECT_EQ(config.entrypoints[3].handler.type, HandlerConfig::Type::kNoop);

  ASSERT_EQ(config.schedules.size(), 1u);
  EXPECT_EQ(config.schedules[0].name, "nightly-cleanup");
  EXPECT_EQ(config.schedules[0].cron, "0 3 * * *");
  EXPECT_EQ(config.schedules[0].handler.type, HandlerConfig::Type::kSql);
  EXPECT_FALSE(config.schedules[0].clean_old);

  EXPECT_EQ(config.http.address, "0.0.0.0");
  EXPECT_EQ(config.http.port, 9090);
  EXPECT_EQ(config.logging.level, "info");
  EXPECT_TRUE(config.logging.json);
}

TEST_F(ConfigFilesTest, UnreadableConfigFile) {
  const std::string path = (dir_ / "missing.yaml").string();
  try {
    LoadConfig(path, LookupIn({}));
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              path + ": cannot read configuration file: No such file or directory");
    EXPECT_EQ(error.file(), path);
  }
}

TEST_F(ConfigFilesTest, EmptyPasswordFileIsAnError) {
  const std::string password = Write("password", "\n");
  EXPECT_EQ(ParseError(WithEntrypoint("database:\n  password_file: " + password + "\n")),
            "bad.yaml:2:18: database.password_file: file " + password + " is empty");
}

TEST_F(ConfigFilesTest, InvalidDsnFileIsReportedWithoutItsContent) {
  const std::string dsn = Write("dsn", std::string("host=db password=") + kMarker + " bogus\n");
  const std::string message = ParseError(WithEntrypoint("database:\n  dsn_file: " + dsn + "\n"));
  EXPECT_EQ(message, "bad.yaml:2:13: database.dsn_file: file " + dsn +
                         " is not a valid libpq connection string or URI (content not shown)");
  EXPECT_THAT(message, Not(HasSubstr(kMarker)));
}

TEST_F(ConfigFilesTest, MaskedNeverShowsSecrets) {
  const std::string password = Write("password", std::string(kMarker) + "\n");
  const std::string yaml = "database:\n  host: db\n  password_file: " + password +
                           "\n"
                           "entrypoints:\n"
                           "  hook:\n"
                           "    handler:\n"
                           "      type: http\n"
                           "      url: https://bot:" +
                           std::string(kMarker) + "@hooks.example/x?api_key=" + kMarker +
                           "&page=2\n"
                           "      allow_inline_secrets: true\n"
                           "      headers: {Authorization: \"Bearer " +
                           kMarker +
                           "\", X-Trace: on}\n"
                           "  run:\n"
                           "    handler:\n"
                           "      type: exec\n"
                           "      command: [tool, \"--password=" +
                           kMarker +
                           "\", -v]\n"
                           "      allow_inline_secrets: true\n"
                           "      env: {API_TOKEN: " +
                           kMarker + ", MODE: fast}\n";
  const WorkerConfig config = ParseConfig(yaml, "w.yaml", LookupIn({}));
  const std::string masked = config.Masked();
  EXPECT_THAT(masked, Not(HasSubstr(kMarker)));
  EXPECT_THAT(masked, HasSubstr("password_file: " + password));
  EXPECT_THAT(masked, HasSubstr("https://bot:****@hooks.example/x?api_key=****&page=2"));
  EXPECT_THAT(masked, HasSubstr("Authorization: \"****\""));
  EXPECT_THAT(masked, HasSubstr("X-Trace: on"));
  EXPECT_THAT(masked, HasSubstr("--password=****"));
  EXPECT_THAT(masked, HasSubstr("API_TOKEN: \"****\""));
  EXPECT_THAT(masked, HasSubstr("MODE: fast"));
  // The handlers themselves still get the real values.
  EXPECT_THAT(config.entrypoints[0].handler.http_headers.at("Authorization"), HasSubstr(kMarker));
}

TEST_F(ConfigFilesTest, HandlerSecretsFromFilesNameTheirFilesNeverTheirContent) {
  const std::string token = Write("token", std::string("Bearer ") + kMarker + "\n");
  const std::string key = Write("key", std::string(kMarker) + "\n");
  const std::string yaml = "entrypoints:\n"
                           "  hook:\n"
                           "    handler:\n"
                           "      type: http\n"
                           "      url: https://hooks.example/x\n"
                           "      headers: {X-Trace: on}\n"
                           "      headers_from_files: {Authorization: " + token + "}\n"
                           "  run:\n"
                           "    handler:\n"
                           "      type: exec\n"
                           "      command: [tool]\n"
                           "      env_from_files: {API_KEY: " + key + "}\n";
  const WorkerConfig config = ParseConfig(yaml, "w.yaml", LookupIn({}));
  EXPECT_EQ(config.entrypoints[0].handler.http_header_files.at("Authorization"), token);
  EXPECT_EQ(config.entrypoints[1].handler.env_files.at("API_KEY"), key);
  const std::string masked = config.Masked();
  EXPECT_THAT(masked, Not(HasSubstr(kMarker)));
  EXPECT_THAT(masked, HasSubstr("Authorization: " + token));
  EXPECT_THAT(masked, HasSubstr("API_KEY: " + key));
  EXPECT_EQ(ParseConfig(masked, "masked.yaml", LookupIn({})).Masked(), masked);
  // The same name inline and from a file: refused.
  const std::string twice = yaml + "      env: {API_KEY: x}\n      allow_inline_secrets: true\n";
  const std::string message = [&] {
    try {
      ParseConfig(twice, "w.yaml", LookupIn({}));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  EXPECT_THAT(message, HasSubstr("entrypoints.run.handler.env_from_files: names API_KEY, which env "
                                 "sets too; set each variable once"));
}

TEST_F(ConfigFilesTest, MaskedIsValidConfigAndStable) {
  const std::string password = Write("password", std::string(kMarker) + "\n");
  const WorkerConfig config =
      ParseConfig(ExampleWithPassword(password), "worker.yaml", LookupIn({}));
  const std::string masked = config.Masked();
  EXPECT_THAT(masked, Not(HasSubstr(kMarker)));
  EXPECT_THAT(masked, HasSubstr("password_file: " + password));
  const WorkerConfig reparsed = ParseConfig(masked, "masked.yaml", LookupIn({}));
  EXPECT_EQ(reparsed.Masked(), masked);
  EXPECT_EQ(reparsed.settings, config.settings);
  EXPECT_EQ(reparsed.pool, config.pool);
  EXPECT_EQ(reparsed.entrypoints.size(), config.entrypoints.size());
}

// ---------------------------------------------------------------- mapping

WorkerConfig Parse(const std::string& yaml, const Env& env = {}) {
  return ParseConfig(yaml, "w.yaml", LookupIn(env));
}

TEST(ConfigTest, DefaultsForAMinimalFile) {
  const WorkerConfig config = Parse(kEntrypoint);
  EXPECT_EQ(config.pool, PoolSettings{});
  EXPECT_EQ(config.settings, DBSettings::WithPrefix(""));
  EXPECT_EQ(config.run.batch_size, RunOptions{}.batch_size);
  EXPECT_EQ(config.run.mode, RunMode::kContinuous);
  EXPECT_EQ(config.run.max_concurrent_tasks, std::nullopt);
  EXPECT_EQ(config.database.application_name, "pgq-worker");
  EXPECT_EQ(config.http.address, "0.0.0.0");
  EXPECT_EQ(config.http.port, 9090);
  EXPECT_EQ(config.logging.level, "info");
  EXPECT_TRUE(config.logging.json);
  EXPECT_EQ(config.shutdown_grace, std::chrono::seconds(30));
  ASSERT_EQ(config.entrypoints.size(), 1u);
  EXPECT_FALSE(config.entrypoints[0].options.retry.has_value());
  EXPECT_TRUE(config.schedules.empty());
}

TEST(ConfigTest, MapsEverySection) {
  const WorkerConfig config = Parse(
      "pool: {min_size: 0, max_size: 2, acquire_timeout: 250ms, max_lifetime: 0s}\n"
      "queue:\n"
      "  batch_size: 4\n"
      "  max_concurrent_tasks: 8\n"
      "  mode: drain\n"
      "  dequeue_timeout: 1.5s\n"
      "  heartbeat_timeout: 1m\n"
      "  statistics_check_interval: 0s\n"
      "  health_check_interval: 2s\n"
      "  health_check_timeout: 500ms\n"
      "entrypoints:\n"
      "  send_email:\n"
      "    handler: {type: sleep, duration: 2s}\n"
      "    concurrency_limit: 3\n"
      "    on_failure: hold\n"
      "    retry: {}\n"
      "  boom:\n"
      "    handler: {type: fail, message: kaput}\n"
      "    retry: {max_attempts: 2, initial_delay: 10m}\n"
      "http: {address: 127.0.0.1, port: 8081}\n"
      "logging: {level: debug, format: text}\n"
      "shutdown: {grace_period: 45s}\n");
  EXPECT_EQ(config.pool.min_size, 0u);
  EXPECT_EQ(config.pool.max_size, 2u);
  EXPECT_EQ(config.pool.acquire_timeout, milliseconds(250));
  EXPECT_EQ(config.pool.max_lifetime, milliseconds(0));
  EXPECT_EQ(config.run.batch_size, 4);
  EXPECT_EQ(config.run.max_concurrent_tasks, 8);
  EXPECT_EQ(config.run.mode, RunMode::kDrain);
  EXPECT_EQ(config.run.dequeue_timeout, milliseconds(1500));
  EXPECT_EQ(config.run.heartbeat_timeout, std::chrono::minutes(1));
  EXPECT_EQ(config.run.statistics_check_interval, milliseconds(0));  // off
  EXPECT_EQ(config.run.health_check_interval, std::chrono::seconds(2));
  EXPECT_EQ(config.run.health_check_timeout, milliseconds(500));
  EXPECT_EQ(config.run.shutdown_grace, std::chrono::seconds(45));
  EXPECT_EQ(config.shutdown_grace, std::chrono::seconds(45));

  const EntrypointConfig& send = config.entrypoints.at(0);
  EXPECT_EQ(send.handler.type, HandlerConfig::Type::kSleep);
  EXPECT_EQ(send.handler.duration, std::chrono::seconds(2));
  EXPECT_EQ(send.options.concurrency_limit, 3);
  EXPECT_EQ(send.options.on_failure, OnFailure::kHold);
  EXPECT_EQ(send.options.retry, RetryPolicy{});  // `retry: {}` = the defaults

  const EntrypointConfig& boom = config.entrypoints.at(1);
  EXPECT_EQ(boom.handler.type, HandlerConfig::Type::kFail);
  EXPECT_EQ(boom.handler.message, "kaput");
  ASSERT_TRUE(boom.options.retry.has_value());
  EXPECT_EQ(boom.options.retry->max_attempts, 2);
  EXPECT_EQ(boom.options.retry->initial_delay, std::chrono::minutes(10));
  EXPECT_EQ(boom.options.retry->max_delay, std::chrono::minutes(10));  // raised to initial

  EXPECT_EQ(config.http.address, "127.0.0.1");
  EXPECT_EQ(config.http.port, 8081);
  EXPECT_EQ(config.logging.level, "debug");
  EXPECT_FALSE(config.logging.json);
}

// ---------------------------------------------------------------- environment

TEST(ConfigEnvTest, EnvironmentPrefixBeatsTheFile) {
  const WorkerConfig config =
      Parse(WithEntrypoint("queue:\n  prefix: file_\n"), {{"PGQUEUER_PREFIX", "env_"}});
  EXPECT_EQ(config.settings.prefix, "env_");
  EXPECT_EQ(config.settings.queue_table, "env_pgqueuer");
  EXPECT_EQ(config.settings.channel, "env_ch_pgqueuer");
}

TEST(ConfigEnvTest, FileValuesApplyWhenTheEnvironmentIsSilent) {
  const WorkerConfig config =
      Parse(WithEntrypoint("queue:\n  prefix: file_\n  schema: jobs\n  channel: my_channel\n"),
            {{"PGQUEUER_PREFIX", ""}});  // empty counts as unset, as in PgQueuer
  EXPECT_EQ(config.settings.prefix, "file_");
  EXPECT_EQ(config.settings.queue_table, "file_pgqueuer");
  EXPECT_EQ(config.settings.schema, "jobs");
  EXPECT_EQ(config.settings.channel, "my_channel");
}

TEST(ConfigEnvTest, EnvironmentChannelAndSchemaBeatTheFile) {
  const WorkerConfig config =
      Parse(WithEntrypoint("queue:\n  schema: jobs\n  channel: my_channel\n"),
            {{"PGQUEUER_CHANNEL", "env_channel"}, {"DB_SCHEMA", "legacy"}});
  EXPECT_EQ(config.settings.channel, "env_channel");
  // PgQueuer's legacy variable is still the environment, so it wins too.
  EXPECT_EQ(config.settings.schema, "legacy");
}

TEST(ConfigEnvTest, OtherPgqueuerVariablesApply) {
  const WorkerConfig config =
      Parse(kEntrypoint, {{"PGQUEUER_QUEUE_TABLE", "jobs"}, {"PGQUEUER_DURABILITY", "balanced"}});
  EXPECT_EQ(config.settings.queue_table, "jobs");
  EXPECT_EQ(config.settings.durability, Durability::kBalanced);
}

// ---------------------------------------------------------------- durations

TEST(ParseDurationTest, AcceptsUnitsAndDecimals) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(ParseDuration("5m"), milliseconds(300000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("0.25m"), milliseconds(15000));
  EXPECT_EQ(ParseDuration("1.50s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
  EXPECT_EQ(ParseDuration("0ms"), milliseconds(0));
  EXPECT_EQ(ParseDuration("7d"), std::chrono::hours(7 * 24));
  EXPECT_EQ(ParseDuration("0.5d"), std::chrono::hours(12));
}

TEST(ParseDurationTest, RejectsAmbiguousOrMalformedText) {
  const auto message = [](const std::string& text) -> std::string {
    try {
      ParseDuration(text);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "accepted";
  };
  EXPECT_EQ(message("5 minutes"), "expected a duration like 500ms, 30s, 5m; got \"5 minutes\"");
  EXPECT_EQ(
      message("30"),
      "expected a duration like 500ms, 30s, 5m; got \"30\" (a unit is required: ms, s, m, h or d)");
  EXPECT_EQ(message("1.5ms"),
            "expected a duration like 500ms, 30s, 5m; got \"1.5ms\" (finer than a millisecond)");
  EXPECT_EQ(message("99999999999999999999h"),
            "expected a duration like 500ms, 30s, 5m; got \"99999999999999999999h\" (too large)");
  for (const char* bad : {"", "s", "-1s", "+1s", "1.s", ".5s", " 5s", "5s ", "5S", "1D", "1e3s",
                          "1m30s", "inf", "0x10s"}) {
    EXPECT_THROW(ParseDuration(bad), std::invalid_argument) << bad;
  }
}

TEST(FormatDurationTest, UsesTheLargestExactUnitAndRoundTrips) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(90)), "90s");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(5)), "5m");
  EXPECT_EQ(FormatDuration(std::chrono::hours(2)), "2h");
  for (const long long ms : {0LL, 1LL, 999LL, 1000LL, 61000LL, 3600000LL, 86400000LL}) {
    EXPECT_EQ(ParseDuration(FormatDuration(milliseconds(ms))), milliseconds(ms));
  }
}

}  // namespace
}  // namespace pgq::worker

namespace pgq::worker {
namespace {

// The key table and docs/configuration.md describe the same keys.
TEST(ConfigSchemaTest, EveryKeyIsDocumented) {
  std::ifstream in(std::string(PGQ_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md not found";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::string> paths = SchemaKeyPaths();
  EXPECT_GT(paths.size(), 40u);
  for (const std::string& path : paths) {
    const std::string name = path.substr(path.rfind('.') + 1);
    const bool documented = doc.find("| `" + name + "` |") != std::string::npos ||
                            doc.find("## `" + name + "`") != std::string::npos;
    EXPECT_TRUE(documented) << path << " is not in docs/configuration.md";
  }
}

}  // namespace
}  // namespace pgq::worker
