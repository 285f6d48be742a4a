// The libpq connection strings the worker builds from `database:`: secret
// files re-read per connection, TLS files and the listener's overrides, TCP
// settings and the statement timeout, DSN files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "config/config.h"
#include "config_test_support.h"
#include "pgq/error.h"

namespace pgq::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using config_test::ConfigFilesTest;
using config_test::LookupIn;
using config_test::ParseError;
using config_test::WithEntrypoint;
using config_test::kEntrypoint;
using config_test::kMarker;

TEST_F(ConfigFilesTest, ConnectionRereadsARotatedPassword) {
  const std::string password = Write("password", "first-password\n");
  const WorkerConfig config =
      ParseConfig(WithEntrypoint("database:\n  host: db.internal\n  port: 6432\n  user: app\n"
                                 "  password_file: " +
                                 password + "\n  connect_timeout: 1500ms\n"),
                  "w.yaml", LookupIn({}));
  const ConnectionOptions options = config.Connection();
  EXPECT_EQ(options.conninfo(),
            "host='db.internal' port='6432' user='app' password='first-password' "
            "application_name='pgq-worker' connect_timeout='2' "
            "keepalives='1' keepalives_idle='10' keepalives_interval='5' keepalives_count='3' "
            "tcp_user_timeout='30000'");

  Write("password", "it's\\second\r\n");  // quotes and backslashes escaped
  EXPECT_EQ(options.conninfo(),
            "host='db.internal' port='6432' user='app' password='it\\'s\\\\second' "
            "application_name='pgq-worker' connect_timeout='2' "
            "keepalives='1' keepalives_idle='10' keepalives_interval='5' keepalives_count='3' "
            "tcp_user_timeout='30000'");

  std::filesystem::remove(password);
  try {
    options.conninfo();
    FAIL() << "expected a ConnectionError";
  } catch (const ConnectionError& error) {
    EXPECT_EQ(std::string(error.what()),
              "database.password_file: cannot read " + password + ": No such file or directory");
    EXPECT_TRUE(error.IsRetryable());
  }
}

TEST_F(ConfigFilesTest, TlsFilesGoToEveryConnectionAndTheListenerOverrides) {
  const std::string ca = Write("ca.crt", "-----BEGIN CERTIFICATE-----\n");
  const std::string cert = Write("client.crt", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = Write("client.key", std::string("-----BEGIN PRIVATE KEY-----") + kMarker);
  std::filesystem::permissions(key, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write);
  const WorkerConfig config = ParseConfig(
      WithEntrypoint("database:\n  host: bouncer\n  port: 6432\n  sslmode: verify-full\n"
                     "  sslrootcert: " + ca + "\n  sslcert: " + cert + "\n  sslkey: " + key +
                     "\n  prepared_statements: false\n"
                     "  listener:\n    host: primary\n    port: 5432\n"),
      "w.yaml", LookupIn({}));
  const ConnectionOptions pool = config.Connection();
  EXPECT_FALSE(pool.prepare_statements);
  EXPECT_EQ(pool.conninfo(), "host='bouncer' port='6432' sslmode='verify-full' sslrootcert='" +
                                 ca + "' sslcert='" + cert + "' sslkey='" + key +
                                 "' application_name='pgq-worker' keepalives='1' "
                                 "keepalives_idle='10' keepalives_interval='5' "
                                 "keepalives_count='3' tcp_user_timeout='30000'");
  const auto listener = config.ListenerConnection();
  ASSERT_TRUE(listener.has_value());
  // libpq takes the last value of a repeated keyword: the listener's host and port win.
  EXPECT_THAT(listener->conninfo(), HasSubstr("tcp_user_timeout='30000' host='primary' "
                                              "port='5432'"));
  EXPECT_THAT(listener->conninfo(), HasSubstr("sslrootcert='" + ca + "'"));
  EXPECT_FALSE(ParseConfig(kEntrypoint, "w.yaml", LookupIn({})).ListenerConnection());
  // The dump names the files, never the key's content.
  EXPECT_THAT(config.Masked(), HasSubstr("sslkey: " + key));
  EXPECT_THAT(config.Masked(), Not(HasSubstr(kMarker)));
}

TEST_F(ConfigFilesTest, AKeyFileOthersCanReadIsAConfigError) {
  const std::string cert = Write("client.crt", "cert\n");
  const std::string key = Write("client.key", "key\n");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write |
                                        std::filesystem::perms::group_read |
                                        std::filesystem::perms::others_read);
  EXPECT_THAT(ParseError(WithEntrypoint("database:\n  sslcert: " + cert + "\n  sslkey: " + key +
                                        "\n")),
              HasSubstr("bad.yaml:3:11: database.sslkey: " + key + " has mode 0644; libpq refuses"));
  EXPECT_EQ(ParseError(WithEntrypoint("database:\n  sslcert: " + cert + "\n")),
            "bad.yaml:2:12: database.sslcert: needs sslkey (the client certificate's key)");
  EXPECT_EQ(ParseError(WithEntrypoint("database:\n  listener:\n    sslrootcert: /nonexistent/ca\n")),
            "bad.yaml:3:18: database.listener.sslrootcert: cannot read /nonexistent/ca: No such "
            "file or directory");
}

TEST_F(ConfigFilesTest, ConnectionOmitsUnsetKeysForLibpqFallback) {
  const WorkerConfig config = ParseConfig(kEntrypoint, "w.yaml", LookupIn({}));
  // TCP keepalives and tcp_user_timeout are always set: a vanished peer fails
  // the connection in seconds.
  EXPECT_EQ(config.Connection().conninfo(),
            "application_name='pgq-worker' keepalives='1' keepalives_idle='10' "
            "keepalives_interval='5' keepalives_count='3' tcp_user_timeout='30000'");
}

TEST_F(ConfigFilesTest, ConnectionCarriesTcpSettingsAndTheStatementTimeout) {
  const WorkerConfig config = ParseConfig(
      WithEntrypoint("database:\n  keepalives_idle: 1m\n  keepalives_interval: 2s\n"
                     "  keepalives_count: 6\n  tcp_user_timeout: 1500ms\n"
                     "  statement_timeout: 45s\n"),
      "w.yaml", LookupIn({}));
  EXPECT_EQ(config.Connection().conninfo(),
            "application_name='pgq-worker' keepalives='1' keepalives_idle='60' "
            "keepalives_interval='2' keepalives_count='6' tcp_user_timeout='1500' "
            "options='-c statement_timeout=45000'");
  // Migrations wait for their locks as long as they need.
  EXPECT_EQ(config.MigrationConnection().conninfo(),
            "application_name='pgq-worker' keepalives='1' keepalives_idle='60' "
            "keepalives_interval='2' keepalives_count='6' tcp_user_timeout='1500'");

  const WorkerConfig off = ParseConfig(WithEntrypoint("database:\n  keepalives: false\n"),
                                       "w.yaml", LookupIn({}));
  EXPECT_EQ(off.Connection().conninfo(),
            "application_name='pgq-worker' keepalives='0' tcp_user_timeout='30000'");
}

TEST_F(ConfigFilesTest, DsnOptionsComeBeforeTheStatementTimeout) {
  const std::string dsn = Write("dsn", "host=db options='-c search_path=jobs'\n");
  const WorkerConfig config = ParseConfig(
      WithEntrypoint("database:\n  dsn_file: " + dsn + "\n  statement_timeout: 2s\n"), "w.yaml",
      LookupIn({}));
  EXPECT_THAT(config.Connection().conninfo(),
              HasSubstr("options='-c search_path=jobs -c statement_timeout=2000'"));
  EXPECT_THAT(config.MigrationConnection().conninfo(),
              HasSubstr("options='-c search_path=jobs'"));
}

TEST_F(ConfigFilesTest, ConnectionFromDsnFile) {
  const std::string dsn = Write("dsn", "postgresql://app:p%40ss@db:5433/jobs?sslmode=require\n");
  const WorkerConfig config = ParseConfig(
      WithEntrypoint("database:\n  dsn_file: " + dsn +
                     "\n  sslmode: disable\n  connect_timeout: 10s\n  application_name: w1\n"),
      "w.yaml", LookupIn({}));
  const std::string conninfo = config.Connection().conninfo();
  EXPECT_THAT(conninfo, HasSubstr("user='app'"));
  EXPECT_THAT(conninfo, HasSubstr("password='p@ss'"));
  EXPECT_THAT(conninfo, HasSubstr("host='db'"));
  EXPECT_THAT(conninfo, HasSubstr("port='5433'"));
  EXPECT_THAT(conninfo, HasSubstr("dbname='jobs'"));
  // The DSN wins; the config only fills in what it leaves out.
  EXPECT_THAT(conninfo, HasSubstr("sslmode='require'"));
  EXPECT_THAT(conninfo, Not(HasSubstr("sslmode='disable'")));
  EXPECT_THAT(conninfo, HasSubstr("application_name='w1'"));
  EXPECT_THAT(conninfo, HasSubstr("connect_timeout='10'"));

  EXPECT_THAT(conninfo, HasSubstr("tcp_user_timeout='30000'"));

  Write("dsn", "host=other dbname=jobs2 tcp_user_timeout=5000");  // rotated
  EXPECT_THAT(config.Connection().conninfo(), HasSubstr("host='other'"));
  // A DSN's own TCP settings win over the defaults.
  EXPECT_THAT(config.Connection().conninfo(), HasSubstr("tcp_user_timeout='5000'"));
  EXPECT_THAT(config.Connection().conninfo(), Not(HasSubstr("tcp_user_timeout='30000'")));
}

}  // namespace
}  // namespace pgq::worker
