// The worker's connection settings as a real server and the kernel see them:
// TCP keepalives and tcp_user_timeout on the client socket, the statement
// timeout on the server session, and migrations without it.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "config/config.h"
#include "pg_fixture.h"

namespace pgq::worker {
namespace {

int SocketOption(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(getsockopt(fd, level, name, &value, &size), 0) << "getsockopt " << name;
  return value;
}

std::string Show(pqxx::nontransaction& tx, const char* query) {
  return tx.exec1(query)[0].as<std::string>();
}

class ConnectionSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pgq-conn-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "dsn") << testing::TestDsn() << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  WorkerConfig Load(const std::string& database_keys, const std::string& handler = "noop") {
    const std::string yaml = "database:\n  dsn_file: " + (dir_ / "dsn").string() + "\n" +
                             database_keys + "entrypoints:\n  e:\n    handler: {type: " +
                             handler + "}\n";
    return ParseConfig(yaml, "w.yaml", [](const char*) { return std::nullopt; });
  }

  std::filesystem::path dir_;
};

TEST_F(ConnectionSettingsTest, KeepalivesAndUserTimeoutReachTheClientSocket) {
  const WorkerConfig config = Load(
      "  keepalives_idle: 7s\n  keepalives_interval: 3s\n  keepalives_count: 4\n"
      "  tcp_user_timeout: 12s\n");
  pqxx::connection connection(config.Connection().conninfo());
  const int fd = connection.sock();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(SocketOption(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(SocketOption(fd, IPPROTO_TCP, TCP_KEEPIDLE), 7);
  EXPECT_EQ(SocketOption(fd, IPPROTO_TCP, TCP_KEEPINTVL), 3);
  EXPECT_EQ(SocketOption(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
  EXPECT_EQ(SocketOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 12000);
}

TEST_F(ConnectionSettingsTest, KeepalivesOffLeavesTheSocketWithout) {
  const WorkerConfig config = Load("  keepalives: false\n  tcp_user_timeout: 0s\n");
  pqxx::connection connection(config.Connection().conninfo());
  EXPECT_EQ(SocketOption(connection.sock(), SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(SocketOption(connection.sock(), IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
}

TEST_F(ConnectionSettingsTest, StatementTimeoutCancelsTheWorkersStatements) {
  const WorkerConfig config = Load("  statement_timeout: 300ms\n");
  pqxx::connection connection(config.Connection().conninfo());
  pqxx::nontransaction tx(connection);
  EXPECT_EQ(Show(tx, "SHOW statement_timeout"), "300ms");
  try {
    tx.exec("SELECT pg_sleep(5)");
    FAIL() << "expected the server to cancel the statement";
  } catch (const pqxx::sql_error& error) {
    EXPECT_EQ(error.sqlstate(), "57014") << error.what();
  }
}

TEST_F(ConnectionSettingsTest, DsnOptionsAreKeptNextToTheStatementTimeout) {
  std::ofstream(dir_ / "dsn") << testing::TestDsn()
                              << (testing::TestDsn().find('?') == std::string::npos ? "?" : "&")
                              << "options=-c%20lock_timeout%3D250\n";
  const WorkerConfig config = Load("  statement_timeout: 2s\n");
  pqxx::connection connection(config.Connection().conninfo());
  pqxx::nontransaction tx(connection);
  EXPECT_EQ(Show(tx, "SHOW lock_timeout"), "250ms");
  EXPECT_EQ(Show(tx, "SHOW statement_timeout"), "2s");
}

TEST_F(ConnectionSettingsTest, MigrationsRunWithoutTheStatementTimeout) {
  const WorkerConfig config = Load("  statement_timeout: 300ms\n");
  pqxx::connection connection(config.MigrationConnection().conninfo());
  pqxx::nontransaction tx(connection);
  EXPECT_EQ(Show(tx, "SHOW statement_timeout"), "0");
}

}  // namespace
}  // namespace pgq::worker
