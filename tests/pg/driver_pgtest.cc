// Drivers against a real server: statements, NOTIFY/LISTEN, refusal of
// connections that are not autocommit at READ COMMITTED, reconnects.

#include <gmock/gmock.h>

#include <atomic>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/pqxx.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using testing::NotificationLog;
using testing::PgTest;

class DriverTest : public PgTest {};

TEST_F(DriverTest, FetchExecuteAndBoundParameters) {
  ConnectionDriver driver(Options());
  auto rows = driver.Fetch("SELECT $1::int + 1 AS n, $2::text AS t, $3::text AS missing",
                           {"41", "it's \"quoted\"", std::nullopt});
  EXPECT_EQ(rows.Int(0, "n"), 42);
  EXPECT_EQ(rows.Text(0, "t"), "it's \"quoted\"");
  EXPECT_FALSE(rows.At(0, "missing").has_value());
  driver.Execute("CREATE TABLE " + settings().Qualify("t") + " (v int)");
  EXPECT_EQ(driver.Execute("INSERT INTO " + settings().Qualify("t") +
                           " SELECT generate_series(1, 5)"),
            5);
}

TEST_F(DriverTest, EveryStatementCommitsOnItsOwn) {
  ConnectionDriver driver(Options());
  driver.Execute("CREATE TABLE " + settings().Qualify("t") + " (v int)");
  driver.Execute("INSERT INTO " + settings().Qualify("t") + " VALUES (1)");
  // Visible at once on another connection: no transaction was left open.
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().Qualify("t")), 1);
  EXPECT_EQ(driver.Inspect().isolation, "read committed");
  EXPECT_FALSE(driver.Inspect().in_transaction);
}

TEST_F(DriverTest, ConnectionStaysUsableAfterFailedSql) {
  ConnectionDriver driver(Options());
  try {
    driver.Fetch("SELECT * FROM no_such_table_at_all");
    FAIL() << "expected an error";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_FALSE(e.PoisonsConnection());
  }
  EXPECT_EQ(driver.Fetch("SELECT 7 AS n").Int(0, "n"), 7);
}

TEST_F(DriverTest, RefusesConnectionInsideTransactionBlock) {
  pqxx::connection connection(dsn_);
  pqxx::nontransaction(connection).exec("BEGIN");
  try {
    BorrowConnection(connection);
    FAIL() << "a connection inside a transaction block was accepted";
  } catch (const ConnectionStateError& e) {
    EXPECT_EQ(e.kind(), ConnectionStateError::Kind::kInTransaction);
    EXPECT_THAT(e.what(), HasSubstr("inside a transaction block"));
    EXPECT_THAT(e.what(), HasSubstr("autocommit"));
  }
}

TEST_F(DriverTest, RefusesBorrowedConnectionThatEntersTransactionLater) {
  pqxx::connection connection(dsn_);
  auto driver = BorrowConnection(connection);
  EXPECT_EQ(driver->Fetch("SELECT 1 AS n").Int(0, "n"), 1);
  pqxx::nontransaction(connection).exec("BEGIN");
  EXPECT_THROW(driver->Fetch("SELECT 1"), ConnectionStateError);
}

TEST_F(DriverTest, RefusesDatabaseWithSerializableDefaultIsolation) {
  const auto slash = dsn_.rfind("/postgres");
  ASSERT_NE(slash, std::string::npos) << "test DSN must name the postgres database";
  const std::string database = "pgq_ser_" + token_;
  admin().Execute("CREATE DATABASE " + database);
  admin().Execute("ALTER DATABASE " + database +
                  " SET default_transaction_isolation = 'serializable'");
  std::string dsn = dsn_;
  dsn.replace(slash, std::string("/postgres").size(), "/" + database);
  try {
    ConnectionDriver driver(ConnectionOptions::FromDsn(dsn));
    ADD_FAILURE() << "a SERIALIZABLE connection was accepted";
  } catch (const ConnectionStateError& e) {
    EXPECT_EQ(e.kind(), ConnectionStateError::Kind::kIsolation);
    EXPECT_THAT(e.what(), HasSubstr("\"serializable\""));
    EXPECT_THAT(e.what(), HasSubstr("\"read committed\""));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("transaction block")));
  }
  admin().Execute("DROP DATABASE " + database + " WITH (FORCE)");
}

TEST_F(DriverTest, NotifyAndListenWithBoundPayload) {
  ConnectionDriver listener(Options());
  ConnectionDriver sender(Options());
  NotificationLog log;
  auto subscription = listener.Listen(settings().channel, log.Callback());
  EXPECT_TRUE(listener.ListenerHealthy());
  const std::string payload = R"({"quote": "it's", "x": 1})";
  sender.Notify(settings().channel, payload);
  sender.Notify(settings().channel, "marker");
  auto before = log.UntilPayload("marker");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].payload, payload);
  EXPECT_EQ(before[0].channel, settings().channel);
}

TEST_F(DriverTest, ListenerReconnectsAfterBackendTerminated) {
  ConnectionDriver listener(Options());
  ConnectionDriver sender(Options());
  NotificationLog log;
  auto subscription = listener.Listen(settings().channel, log.Callback());
  // Kill the listening backend from outside, as a failover or an admin would.
  const auto killed = Count(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN "
      "%' AND query LIKE $1",
      {"%" + settings().channel + "%"});
  ASSERT_EQ(killed, 1);
  // Keep notifying until one gets through the re-established LISTEN (each
  // attempt waits up to a second for delivery; bounded at 60 attempts).
  bool delivered = false;
  for (int i = 0; i < 60 && !delivered; ++i) {
    sender.Notify(settings().channel, "after-" + std::to_string(i));
    delivered = log.WaitFor([](const auto& received) { return !received.empty(); },
                            std::chrono::seconds(1));
  }
  EXPECT_TRUE(delivered);
  EXPECT_TRUE(listener.ListenerHealthy());
}

TEST_F(DriverTest, ConninfoIsReadAgainOnReconnect) {
  std::atomic<int> reads{0};
  ConnectionOptions options;
  options.conninfo = [&] {
    ++reads;
    return dsn_;
  };
  ConnectionDriver driver(options);
  EXPECT_EQ(reads.load(), 1);
  const auto pid = driver.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
  admin().Fetch("SELECT pg_terminate_backend($1::int)", {pid});
  // The next call fails (the statement may not be re-sent blindly), the one
  // after reconnects with freshly read connection settings.
  EXPECT_THROW(driver.Fetch("SELECT 1"), ConnectionError);
  EXPECT_EQ(driver.Fetch("SELECT 2 AS n").Int(0, "n"), 2);
  EXPECT_EQ(reads.load(), 2);
}

TEST_F(DriverTest, ConnectionsTalkUtf8WhateverTheClientEncodingAsked) {
  // In SJIS a 0x5C byte may be the second half of a character, and then a
  // backslash-escaped literal pgq writes could end early.
  ConnectionOptions options;
  options.conninfo = [&] {
    if (dsn_.rfind("postgres", 0) != 0) return dsn_ + " client_encoding=SJIS";  // key=value
    return dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") + "client_encoding=SJIS";
  };
  ConnectionDriver driver(options);
  EXPECT_EQ(driver.Fetch("SHOW client_encoding").Text(0, "client_encoding"), "UTF8");
  EXPECT_EQ(driver.Fetch("SELECT $1::text AS t", {"b\u00e4ck\\slash"}).Text(0, "t"),
            "b\u00e4ck\\slash");
}

TEST_F(DriverTest, SyncDriverEnqueuesAndReadsQueueSize) {
  Install();
  SyncDriver driver(Options());
  ProducerQueries producer(driver, settings());
  NewJob job;
  job.entrypoint = "sync";
  const auto id = producer.Enqueue(job);
  EXPECT_GT(id, 0);
  auto sizes = producer.QueueSize();
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes[0].entrypoint, "sync");
  EXPECT_EQ(sizes[0].count, 1);
}

TEST_F(DriverTest, ConnectErrorsDoNotLeakThePassword) {
  auto options = ConnectionOptions::FromDsn(
      "postgresql://nobody:Sup3rSecretMarker@127.0.0.1:1/none?connect_timeout=2");
  try {
    ConnectionDriver driver(options);
    FAIL() << "connected to port 1?";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("Sup3rSecretMarker")));
    EXPECT_THAT(e.what(), HasSubstr("cannot connect"));
  }
}

}  // namespace
}  // namespace pgq
