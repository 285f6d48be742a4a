// Writable or nothing, against a real hot standby (pg_basebackup -R of the
// test server): read-only servers are refused and their errors classified,
// pooled and single connections that turn read-only are discarded, and a
// worker started against a standby stays up, not ready, until the standby
// is promoted, then works.

#include <gmock/gmock.h>

#include <pqxx/connection>
#include <pqxx/transaction>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <regex>
#include <thread>

#include "pg_fixture.h"
#include "pgq/pool.h"
#include "pgq/pqxx.h"
#include "pgq/queries.h"
#include "standby_server.h"
#include "worker_process.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::HttpGet;
using testing::PgTest;
using testing::StandbyServer;
using testing::WorkerProcess;
using namespace std::chrono_literals;
using testing::WaitUntil;

class CountingObserver final : public Observer {
 public:
  void OnConnectError(std::string_view kind) override {
    std::scoped_lock lock(mu_);
    if (kind == "read_only") ++read_only_;
  }
  void OnConnectionClosed(CloseReason reason) override {
    std::scoped_lock lock(mu_);
    if (reason == CloseReason::kBroken) ++broken_;
  }
  int read_only() const {
    std::scoped_lock lock(mu_);
    return read_only_;
  }
  int broken() const {
    std::scoped_lock lock(mu_);
    return broken_;
  }

 private:
  mutable std::mutex mu_;
  int read_only_ = 0;
  int broken_ = 0;
};

template <typename F>
std::string ReadOnlyMessage(F&& call) {
  try {
    call();
  } catch (const ReadOnlyError& e) {
    EXPECT_TRUE(e.PoisonsConnection());
    EXPECT_TRUE(e.IsRetryable());
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ReadOnlyError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected ReadOnlyError, nothing was thrown";
  return {};
}

// ------------------------------------------------ without a standby

using ReadOnlySessionTest = PgTest;

TEST_F(ReadOnlySessionTest, ReadOnlyWriteDiscardsTheDriversConnection) {
  Install();
  auto options = Options();
  auto observer = std::make_shared<CountingObserver>();
  options.observer = observer;
  ConnectionDriver driver(options);
  const std::string pid = driver.Fetch("SELECT pg_backend_pid()::text AS p").Text(0, "p");
  driver.Execute("SET default_transaction_read_only = on");
  const auto message = ReadOnlyMessage([&] {
    ProducerQueries(driver, settings()).Enqueue(NewJob{.entrypoint = "ro"});
  });
  EXPECT_THAT(message, HasSubstr("read-only transaction"));
  EXPECT_THAT(message, HasSubstr("(SQLSTATE 25006)"));
  EXPECT_EQ(observer->read_only(), 1);
  // Never retried on it: the next call is on a new, writable session.
  EXPECT_NE(driver.Fetch("SELECT pg_backend_pid()::text AS p").Text(0, "p"), pid);
  EXPECT_EQ(driver.Fetch("SHOW transaction_read_only").Text(0, "transaction_read_only"), "off");
}

TEST_F(ReadOnlySessionTest, PoolDiscardsAConnectionThatTurnedReadOnly) {
  Install();
  auto observer = std::make_shared<CountingObserver>();
  auto pool = ConnectionPool::Create(Options(), PoolSettings{.min_size = 1, .max_size = 2},
                                     observer);
  {
    auto lease = pool->Acquire();
    lease.Execute("SET default_transaction_read_only = on");
    ReadOnlyMessage([&] {
      lease.Execute("INSERT INTO " + settings().QueueTable() +
                    " (priority, entrypoint, payload) VALUES (0, 'ro', NULL)");
    });
  }
  EXPECT_EQ(observer->read_only(), 1);
  EXPECT_GE(observer->broken(), 1);
  EXPECT_EQ(pool->Stats().idle, 0u);

  // A statement error that keeps the session open: the connection is
  // checked on return, and a read-only one does not go back to the pool.
  {
    auto lease = pool->Acquire();
    EXPECT_EQ(lease.Fetch("SHOW transaction_read_only").Text(0, "transaction_read_only"), "off");
    lease.Execute("SET default_transaction_read_only = on");
    EXPECT_THROW(lease.Fetch("SELECT 1/0"), DatabaseError);
  }
  EXPECT_EQ(observer->read_only(), 2);
  EXPECT_EQ(pool->Stats().idle, 0u);
  // A statement error on a writable session keeps the connection.
  {
    auto lease = pool->Acquire();
    EXPECT_THROW(lease.Fetch("SELECT 1/0"), DatabaseError);
  }
  EXPECT_EQ(pool->Stats().idle, 1u);
  EXPECT_EQ(observer->read_only(), 2);
}

TEST_F(ReadOnlySessionTest, ReadOnlyReasonNamesTheServer) {
  Install();
  ConnectionDriver driver(Options());
  Queries queries(driver, settings());
  EXPECT_EQ(queries.ReadOnlyReason(), std::nullopt);
  driver.Execute("SET default_transaction_read_only = on");
  const auto reason = queries.ReadOnlyReason();
  ASSERT_TRUE(reason.has_value());
  EXPECT_THAT(*reason, HasSubstr("server 127.0.0.1:"));
  EXPECT_THAT(*reason, HasSubstr("is read-only (transaction_read_only is on)"));
}

// An enqueue whose connection is cut after the statement was sent: the
// producer cannot know whether the server committed it, and says so with
// InDoubtError. The dedupe-key retry then leaves exactly one job.
TEST_F(ReadOnlySessionTest, EnqueueCutOffAfterSendingIsInDoubt) {
  Install();
  std::smatch m;
  static const std::regex kPort(R"(:(\d+)/)");
  ASSERT_TRUE(std::regex_search(dsn_, m, kPort)) << dsn_;
  const int proxy_port = testing::FreePort();
  // socat: a TCP proxy that a SIGKILL cuts in the middle of a statement.
  auto socat = testing::RunCommand("command -v socat");
  ASSERT_EQ(socat.exit_code, 0) << "socat is missing (ci/deps installs it)";
  while (!socat.output.empty() && std::isspace(static_cast<unsigned char>(socat.output.back()))) {
    socat.output.pop_back();
  }
  WorkerProcess proxy({socat.output, "TCP-LISTEN:" + std::to_string(proxy_port) +
                                    ",bind=127.0.0.1,reuseaddr",
                       "TCP:127.0.0.1:" + m[1].str()},
                      {});
  const std::string proxied =
      "postgresql://postgres@127.0.0.1:" + std::to_string(proxy_port) + "/postgres";
  std::unique_ptr<SyncDriver> producer;
  ASSERT_TRUE(WaitUntil([&] {
    try {
      producer = std::make_unique<SyncDriver>(proxied);
      return true;
    } catch (const ConnectionError&) {
      return false;
    }
  })) << proxy.Output();
  const std::string pid = producer->Fetch("SELECT pg_backend_pid()::text AS p").Text(0, "p");

  // The queue table is locked: the INSERT waits on the server, already sent.
  pqxx::connection blocker(dsn_);
  pqxx::work lock(blocker);
  lock.exec("LOCK TABLE " + settings().QueueTable() + " IN ACCESS EXCLUSIVE MODE");
  const NewJob job{.entrypoint = "invoice", .dedupe_key = "invoice-42"};
  std::exception_ptr error;
  std::thread enqueue([&] {
    try {
      ProducerQueries(*producer, settings()).Enqueue(job);
    } catch (...) {
      error = std::current_exception();
    }
  });
  const bool waiting = WaitUntil([&] {
    return Scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = " + pid) == "Lock";
  });
  proxy.Signal(SIGKILL);
  enqueue.join();
  lock.commit();
  ASSERT_TRUE(waiting) << "the enqueue never waited on the lock";
  ASSERT_TRUE(error) << "the enqueue succeeded through a cut connection";
  try {
    std::rethrow_exception(error);
  } catch (const InDoubtError& e) {
    EXPECT_FALSE(e.IsRetryable());
    EXPECT_THAT(e.what(), HasSubstr("in doubt"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InDoubtError, got: " << e.what();
  }
  // Whether it committed depends on when the server noticed the lost client;
  // once its backend is gone, the retry with the same dedupe key leaves
  // exactly one job either way.
  ASSERT_TRUE(WaitUntil([&] {
    return Count("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == 0;
  }));
  const std::string count_sql =
      "SELECT count(*) FROM " + settings().QueueTable() + " WHERE dedupe_key = 'invoice-42'";
  const bool committed = Count(count_sql) == 1;
  const auto retried = ProducerQueries(admin(), settings()).Enqueue({job}, OnConflict::kSkip);
  EXPECT_EQ(retried.front().has_value(), !committed);
  EXPECT_EQ(Count(count_sql), 1);
}

// ------------------------------------------------ against a hot standby

class StandbyTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Install();  // before the base backup, so the standby has the schema
    standby_ = std::make_unique<StandbyServer>(dsn_);
    ASSERT_TRUE(standby_->ok()) << standby_->error();
  }
  std::unique_ptr<StandbyServer> standby_;
};

TEST_F(StandbyTest, ConnectionsToAStandbyAreRefusedAsReadOnly) {
  auto observer = std::make_shared<CountingObserver>();
  // target_session_attrs=read-write is added: libpq refuses the standby.
  auto options = ConnectionOptions::FromDsn(standby_->Dsn());
  options.observer = observer;
  EXPECT_THAT(ReadOnlyMessage([&] { ConnectionDriver driver(options); }),
              HasSubstr("read-only"));
  EXPECT_EQ(observer->read_only(), 1);

  // A DSN that chose target_session_attrs=any: pgq's own check refuses it.
  auto any = ConnectionOptions::FromDsn(standby_->Dsn("target_session_attrs=any"));
  any.observer = observer;
  const auto message = ReadOnlyMessage([&] { SyncDriver producer(any); });
  EXPECT_THAT(message, HasSubstr("127.0.0.1:" + std::to_string(standby_->port()) +
                                 " is read-only (in recovery)"));
  EXPECT_EQ(observer->read_only(), 2);

  // The pool opens nothing on it, and says why.
  const auto pool_message = ReadOnlyMessage([&] {
    ConnectionPool::Create(any, PoolSettings{.min_size = 1, .max_size = 2}, observer);
  });
  EXPECT_THAT(pool_message, HasSubstr("is read-only (in recovery)"));
  EXPECT_EQ(observer->read_only(), 3);
}

TEST_F(StandbyTest, StatementsOnAStandbyFailAsReadOnlyWithTheirSqlstate) {
  // The user's own connection (transactional enqueue), which pgq does not open.
  pqxx::connection connection(standby_->Dsn("target_session_attrs=any"));
  {
    pqxx::work tx(connection);
    TransactionExecutor executor(tx);
    try {
      ProducerQueries(executor, settings()).Enqueue(NewJob{.entrypoint = "ro"});
      ADD_FAILURE() << "an enqueue on a standby succeeded";
    } catch (const ReadOnlyError& e) {
      EXPECT_EQ(e.sqlstate(), "25006");
      EXPECT_THAT(e.what(), HasSubstr("(SQLSTATE 25006)"));
    }
  }
  {
    pqxx::work tx(connection);
    TransactionExecutor executor(tx);
    const auto message = ReadOnlyMessage([&] { executor.Execute("LISTEN pgq_standby_test"); });
    EXPECT_THAT(message, HasSubstr("during recovery"));
  }
}

// pgq_driver_errors_total{endpoint="pool",kind="read_only"} of a scrape, or -1.
double ReadOnlyErrors(const std::string& scrape) {
  const std::string series = "pgq_driver_errors_total{endpoint=\"pool\",kind=\"read_only\"} ";
  const auto at = scrape.find(series);
  if (at == std::string::npos) return -1;
  return std::stod(scrape.substr(at + series.size()));
}

// `pgq run` against a standby: alive and not ready with the reason, no exit;
// after the promotion ready and working within seconds, not restarted.
TEST_F(StandbyTest, WorkerOnAStandbyWaitsThenWorksAfterPromotion) {
  const int http_port = testing::FreePort();
  const std::string config =
      "database:\n  host: 127.0.0.1\n  port: " + std::to_string(standby_->port()) +
      "\n  dbname: postgres\n  user: postgres\n"
      "pool:\n  min_size: 2\n  max_size: 4\n  health_check_interval: 1s\n"
      "queue:\n  schema: " + settings().schema + "\n  channel: " + settings().channel +
      "\n  batch_size: 10\n  dequeue_timeout: 5s\n"
      "entrypoints:\n  w.noop:\n    handler: {type: noop}\n"
      "http:\n  address: 127.0.0.1\n  port: " + std::to_string(http_port) +
      "\nlogging:\n  level: info\n  format: json\nshutdown:\n  grace_period: 10s\n";
  WorkerProcess worker(PGQ_BINARY, config);
  const std::string base = "http://127.0.0.1:" + std::to_string(http_port);
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(base + "/readyz");
    return r.status == 503 && r.body.find("read-only") != std::string::npos;
  })) << worker.Output();
  EXPECT_EQ(HttpGet(base + "/livez").status, 200);
  // Several retries later it is still the same process, still waiting.
  ASSERT_TRUE(WaitUntil([&] { return ReadOnlyErrors(HttpGet(base + "/metrics").body) >= 3; }))
      << worker.Output();
  ASSERT_TRUE(worker.Running()) << worker.Output();
  EXPECT_EQ(HttpGet(base + "/readyz").status, 503);

  ASSERT_TRUE(standby_->Promote()) << standby_->error();
  const auto promoted = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(base + "/readyz").status == 200; }))
      << worker.Output();
  const auto ready_after = std::chrono::steady_clock::now() - promoted;
  ConnectionDriver producer(ConnectionOptions::FromDsn(standby_->Dsn()));
  ProducerQueries(producer, settings()).Enqueue(NewJob{.entrypoint = "w.noop"});
  ASSERT_TRUE(WaitUntil([&] {
    return producer
               .Fetch("SELECT count(*)::text AS n FROM " + settings().LogTable() +
                      " WHERE status = 'successful'")
               .Text(0, "n") == "1";
  })) << worker.Output();
  std::printf("[ measured ] ready %.2f s after pg_ctl promote returned\n",
              std::chrono::duration<double>(ready_after).count());
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
  const auto output = worker.Output();
  EXPECT_THAT(output, Not(HasSubstr("worker failed")));
}

}  // namespace
}  // namespace pgq
