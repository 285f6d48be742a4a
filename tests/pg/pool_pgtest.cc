// Connection pool against a real server.

#include <gmock/gmock.h>

#include <atomic>
#include <thread>

#include <pqxx/nontransaction>

#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/pool.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using testing::NotificationLog;
using testing::PgTest;

// Counts observer events (thread-safe).
class CountingObserver final : public Observer {
 public:
  std::atomic<int> created{0}, closed_broken{0}, closed_state{0}, closed_lifetime{0},
      timeouts{0}, violations{0}, acquires{0}, releases{0};
  void OnConnectionCreated() override { ++created; }
  void OnConnectionClosed(CloseReason reason) override {
    if (reason == CloseReason::kBroken) ++closed_broken;
    if (reason == CloseReason::kStateViolation) ++closed_state;
    if (reason == CloseReason::kMaxLifetime) ++closed_lifetime;
  }
  void OnAcquireTimeout() override { ++timeouts; }
  void OnStateViolation(bool, bool) override { ++violations; }
  void OnAcquire(std::chrono::nanoseconds) override { ++acquires; }
  void OnRelease(std::chrono::nanoseconds) override { ++releases; }
};

class PoolTest : public PgTest {
 protected:
  std::shared_ptr<ConnectionPool> MakePool(PoolSettings settings) {
    return ConnectionPool::Create(Options(), settings, observer_);
  }
  // LISTENs through `driver` and checks that a NOTIFY arrives before a marker.
  std::unique_ptr<Subscription> ExpectDelivers(PoolDriver& driver) {
    auto subscription = driver.Listen(settings().channel, log_.Callback());
    EXPECT_TRUE(driver.ListenerHealthy());
    driver.Notify(settings().channel, "hello");
    driver.Notify(settings().channel, "marker");
    auto before = log_.UntilPayload("marker");
    EXPECT_EQ(before.size(), 1u);
    if (!before.empty()) {
      EXPECT_EQ(before[0].payload, "hello");
    }
    return subscription;
  }
  std::shared_ptr<CountingObserver> observer_ = std::make_shared<CountingObserver>();
  NotificationLog log_;
};

TEST_F(PoolTest, OpensMinSizeAndReusesConnections) {
  PoolSettings s;
  s.min_size = 2;
  s.max_size = 4;
  auto pool = MakePool(s);
  EXPECT_EQ(observer_->created.load(), 2);
  auto stats = pool->Stats();
  EXPECT_EQ(stats.idle, 2u);
  EXPECT_EQ(stats.active, 0u);
  std::string first_pid;
  {
    auto lease = pool->Acquire();
    first_pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
    EXPECT_EQ(pool->Stats().active, 1u);
  }
  auto lease = pool->Acquire();
  EXPECT_EQ(lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid"), first_pid);
  EXPECT_EQ(observer_->created.load(), 2);
}

TEST_F(PoolTest, AcquireTimesOutWhenExhausted) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  s.acquire_timeout = std::chrono::milliseconds(200);
  auto pool = MakePool(s);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  EXPECT_THROW(pool->Acquire(), PoolTimeoutError);
  EXPECT_EQ(observer_->timeouts.load(), 1);
}

TEST_F(PoolTest, WaiterGetsTheNextReturnedConnection) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 1;
  s.acquire_timeout = std::chrono::seconds(30);
  auto pool = MakePool(s);
  auto held = pool->Acquire();
  std::thread returner([&] {
    // Return the connection once the main thread is waiting for it.
    while (pool->Stats().pending == 0) std::this_thread::yield();
    held.Release();
  });
  auto next = pool->Acquire();
  returner.join();
  EXPECT_TRUE(static_cast<bool>(next));
  EXPECT_EQ(observer_->created.load(), 1);
}

TEST_F(PoolTest, NeverOpensMoreThanMaxSizeUnderContention) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 3;
  s.acquire_timeout = std::chrono::seconds(10);
  auto pool = MakePool(s);
  std::atomic<int> in_use{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto lease = pool->Acquire();
        const int now = ++in_use;
        int expected = peak.load();
        while (now > expected && !peak.compare_exchange_weak(expected, now)) {
        }
        lease.Fetch("SELECT 1");
        --in_use;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_LE(observer_->created.load(), 3);
  EXPECT_EQ(observer_->acquires.load(), 160);
  EXPECT_EQ(observer_->releases.load(), 160);
}

TEST_F(PoolTest, DiscardsConnectionReturnedInsideTransaction) {
  PoolSettings s;
  s.min_size = 1;
  s.max_size = 2;
  auto pool = MakePool(s);
  const std::string table = settings().Qualify("left_open");
  admin().Execute("CREATE TABLE " + table + " (v int)");
  std::string pid;
  {
    auto lease = pool->Acquire();
    pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
    // A `sql` handler that opens a transaction and never commits.
    lease.Execute("BEGIN");
    pqxx::nontransaction(lease.connection()).exec("INSERT INTO " + table + " VALUES (1)");
    EXPECT_THROW(lease.Fetch("SELECT 1"), ConnectionStateError);
  }
  EXPECT_EQ(observer_->closed_state.load(), 1);
  EXPECT_GE(observer_->violations.load(), 1);
  auto lease = pool->Acquire();
  EXPECT_NE(lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid"), pid);
  // Closing the connection rolled the abandoned transaction back.
  EXPECT_EQ(Count("SELECT count(*) FROM " + table), 0);
}

TEST_F(PoolTest, DiscardsExposedConnectionWhoseIsolationChanged) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  auto pool = MakePool(s);
  {
    auto lease = pool->Acquire();
    pqxx::nontransaction(lease.connection())
        .exec("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE");
  }
  EXPECT_EQ(observer_->closed_state.load(), 1);
  EXPECT_EQ(pool->Stats().idle, 0u);
  auto lease = pool->Acquire();
  EXPECT_EQ(lease.Fetch("SELECT current_setting('transaction_isolation') AS i").Text(0, "i"),
            "read committed");
}

TEST_F(PoolTest, ViolationsAndChecksSayWhichRuleBroke) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  auto pool = MakePool(s);
  EXPECT_FALSE(pool->LastViolation().has_value());
  {
    auto lease = pool->Acquire();
    pqxx::nontransaction(lease.connection())
        .exec("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE");
  }
  auto violation = pool->LastViolation();
  ASSERT_TRUE(violation.has_value());
  EXPECT_EQ(violation->kind, ConnectionStateError::Kind::kIsolation);
  pool->Acquire().Execute("BEGIN");
  violation = pool->LastViolation();
  ASSERT_TRUE(violation.has_value());
  EXPECT_EQ(violation->kind, ConnectionStateError::Kind::kInTransaction);

  // A dead idle connection fails its check without breaking a session rule.
  std::string pid;
  {
    auto lease = pool->Acquire();
    pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
  }
  admin().Fetch("SELECT pg_terminate_backend($1::int)", {pid});
  const auto report = pool->CheckIdle();
  ASSERT_EQ(report.size(), 1u);
  EXPECT_FALSE(report.front().ok);
  EXPECT_FALSE(report.front().violated.has_value());
}

TEST_F(PoolTest, ReplacesBrokenConnections) {
  PoolSettings s;
  s.min_size = 1;
  s.max_size = 2;
  auto pool = MakePool(s);
  std::string pid;
  {
    auto lease = pool->Acquire();
    pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
  }
  admin().Fetch("SELECT pg_terminate_backend($1::int)", {pid});
  // The idle connection is dead; the health check finds and replaces it.
  auto report = pool->CheckIdle();
  ASSERT_FALSE(report.empty());
  EXPECT_FALSE(report.front().ok);
  auto lease = pool->Acquire();
  EXPECT_NE(lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid"), pid);
}

TEST_F(PoolTest, BrokenLeaseIsDiscardedOnReturn) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  auto pool = MakePool(s);
  {
    auto lease = pool->Acquire();
    const auto pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
    admin().Fetch("SELECT pg_terminate_backend($1::int)", {pid});
    EXPECT_THROW(lease.Fetch("SELECT 1"), ConnectionError);
  }
  EXPECT_EQ(observer_->closed_broken.load(), 1);
  EXPECT_EQ(pool->Acquire().Fetch("SELECT 3 AS n").Int(0, "n"), 3);
}

TEST_F(PoolTest, MaxLifetimeClosesOldConnections) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  s.max_lifetime = std::chrono::milliseconds(1);
  auto pool = MakePool(s);
  std::string pid;
  {
    auto lease = pool->Acquire();
    pid = lease.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
    // Hold it past its lifetime: a server-side wait, not a client sleep.
    lease.Fetch("SELECT pg_sleep(0.01)");
  }
  EXPECT_EQ(observer_->closed_lifetime.load(), 1);
  EXPECT_NE(pool->Acquire().Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid"), pid);
}

TEST_F(PoolTest, CheckIdleReportsHealthyConnections) {
  PoolSettings s;
  s.min_size = 2;
  s.max_size = 3;
  auto pool = MakePool(s);
  auto report = pool->CheckIdle();
  ASSERT_EQ(report.size(), 2u);
  for (const auto& check : report) EXPECT_TRUE(check.ok) << check.reason;
}

TEST_F(PoolTest, PoolDriverRefusesMaxSizeBelowTwo) {
  PoolSettings s;
  s.min_size = 1;
  s.max_size = 1;
  auto pool = MakePool(s);
  try {
    PoolDriver driver(pool);
    FAIL() << "max_size 1 was accepted";
  } catch (const LogicError& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_size >= 2"));
  }
}

TEST_F(PoolTest, PoolDriverListensOnDedicatedConnection) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 2;
  s.acquire_timeout = std::chrono::milliseconds(300);
  auto pool = MakePool(s);
  PoolDriver driver(pool);
  auto subscription = ExpectDelivers(driver);
  // The LISTEN connection counts against max_size: one left for statements.
  auto lease = pool->Acquire();
  EXPECT_THROW(pool->Acquire(), PoolTimeoutError);
}

TEST_F(PoolTest, PoolDriverListensOnItsOwnEndpointOutsideThePool) {
  PoolSettings s;
  s.min_size = 0;
  s.max_size = 1;  // accepted: the listener does not take a pool slot
  s.acquire_timeout = std::chrono::milliseconds(300);
  auto pool = MakePool(s);
  auto listener = Options();
  const std::string dsn = testing::TestDsn();
  const std::string name = "pgq_listener_" + settings().channel;
  listener.conninfo = [dsn, name] {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
  };
  PoolDriver driver(pool, listener);
  auto subscription = ExpectDelivers(driver);
  // The LISTEN connection was opened with the listener's options ...
  auto lease = pool->Acquire();
  EXPECT_EQ(lease.Fetch("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
                        {name})
                .Text(0, "n"),
            "1");
  // ... and the pool's only slot stays free for statements.
  EXPECT_EQ(pool->Stats().active, 1u);
}

TEST_F(PoolTest, RejectsMinAboveMax) {
  PoolSettings s;
  s.min_size = 5;
  s.max_size = 2;
  EXPECT_THROW(MakePool(s), LogicError);
}

}  // namespace
}  // namespace pgq
