// The `sql` handler against a real database: parameters ($1 payload as
// bytea, $2 headers as JSON text), errors, timeouts, cancellation, and what
// the pool does with a connection that a statement leaves inside a
// transaction block.

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "handlers/handlers.h"
#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/observer.h"
#include "pgq/pool.h"
#include "pgq/queries.h"
#include "pgq/runtime.h"
#include "pgq/scheduler.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

/// Counts pooled connections closed, by reason.
class CloseCounter final : public Observer {
 public:
  void OnConnectionClosed(CloseReason reason) override {
    ++closed;
    if (reason == CloseReason::kStateViolation) ++state_violations;
  }
  std::atomic<int> closed{0};
  std::atomic<int> state_violations{0};
};

Job SampleJob() {
  Job job;
  job.id = 99;
  job.entrypoint = "store";
  job.headers = R"({"trace_id": "abc-123", "n": 5})";
  job.payload = std::string("\x00\x01'\\x\xff", 6);  // NUL, quote, backslash, 0xFF
  return job;
}

void RunJob(const Handler& handler, const Job& job, std::stop_token stop = {}) {
  Resources resources;
  JobContext ctx{job, std::move(stop), resources};
  handler(ctx);
}

class SqlHandlerTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    table_ = settings().schema + ".received";
    admin().Execute("CREATE TABLE " + table_ +
                    " (id bigserial PRIMARY KEY, payload bytea, headers jsonb)");
    observer_ = std::make_shared<CloseCounter>();
    PoolSettings pool_settings;
    pool_settings.min_size = 1;
    pool_settings.max_size = 2;
    pool_ = ConnectionPool::Create(Options(), pool_settings, observer_);
  }
  void TearDown() override {
    if (pool_) pool_->Close();
    PgTest::TearDown();
  }

  HandlerConfig Sql(const std::string& statement, milliseconds timeout = milliseconds(10000)) {
    HandlerConfig config;
    config.type = HandlerConfig::Type::kSql;
    config.statement = statement;
    config.timeout = timeout;
    return config;
  }
  Handler Make(const std::string& statement, milliseconds timeout = milliseconds(10000)) {
    return MakeHandler(Sql(statement, timeout), HandlerDeps{pool_});
  }

  std::string table_;
  std::shared_ptr<CloseCounter> observer_;
  std::shared_ptr<ConnectionPool> pool_;
};

TEST_F(SqlHandlerTest, BindsPayloadAsByteaAndHeadersAsJson) {
  RunJob(Make("INSERT INTO " + table_ + " (payload, headers) VALUES ($1, $2::jsonb)"), SampleJob());
  EXPECT_EQ(Scalar("SELECT encode(payload, 'hex') FROM " + table_), "0001275c78ff");
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_ +
                  R"( WHERE headers = '{"n": 5, "trace_id": "abc-123"}'::jsonb)"),
            1);
  // The connection went back to the pool.
  EXPECT_EQ(pool_->Stats().active, 0u);
  EXPECT_EQ(observer_->closed.load(), 0);
}

TEST_F(SqlHandlerTest, NullPayloadIsSqlNull) {
  Job job = SampleJob();
  job.payload.reset();
  RunJob(Make("INSERT INTO " + table_ + " (payload, headers) VALUES ($1, $2::jsonb)"), job);
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_ + " WHERE payload IS NULL"), 1);
}

TEST_F(SqlHandlerTest, StatementMayUseOnlySomeParameters) {
  // Only $2, only $1, and none at all: PostgreSQL rejects a bind with more
  // parameters than the statement uses, so the handler binds what is used.
  RunJob(Make("INSERT INTO " + table_ + " (headers) VALUES ($2::jsonb)"), SampleJob());
  RunJob(Make("INSERT INTO " + table_ + " (payload) VALUES ($1)"), SampleJob());
  RunJob(Make("INSERT INTO " + table_ +
              " (headers) VALUES (jsonb_build_object('text', '$1 and $2' /* $2 */)) -- $1"),
         SampleJob());
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_ + " WHERE headers->>'trace_id' = 'abc-123'"), 1);
  EXPECT_EQ(
      Count("SELECT count(*) FROM " + table_ + " WHERE encode(payload, 'hex') = '0001275c78ff'"),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_ + " WHERE headers->>'text' = '$1 and $2'"), 1);
}

TEST_F(SqlHandlerTest, FailingStatementThrowsDatabaseError) {
  const Handler handler = Make("INSERT INTO " + settings().schema + ".no_such_table VALUES ($1)");
  try {
    RunJob(handler, SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01") << e.what();
  }
  // An error in autocommit leaves the connection usable.
  EXPECT_EQ(observer_->closed.load(), 0);
  EXPECT_EQ(pool_->Stats().idle, 1u);
}

TEST_F(SqlHandlerTest, ConnectionLeftInTransactionIsDiscarded) {
  // The handler does not hide what the statement did: the pool sees the
  // open transaction block when the lease comes back and closes the
  // connection, which rolls the insert back.
  RunJob(Make("BEGIN; INSERT INTO " + table_ + " (headers) VALUES ('{}')"), SampleJob());
  EXPECT_EQ(observer_->state_violations.load(), 1);
  EXPECT_EQ(pool_->Stats().active, 0u);
  EXPECT_EQ(pool_->Stats().idle, 0u);
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_), 0);

  RunJob(Make("BEGIN"), SampleJob());
  EXPECT_EQ(observer_->state_violations.load(), 2);

  // The pool opens a fresh connection for the next job.
  RunJob(Make("INSERT INTO " + table_ + " (payload) VALUES ($1)"), SampleJob());
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_), 1);
}

TEST_F(SqlHandlerTest, SessionChangesAreCaughtOnReturn) {
  RunJob(Make("SET default_transaction_isolation = 'serializable'"), SampleJob());
  EXPECT_EQ(observer_->state_violations.load(), 1);
  EXPECT_EQ(pool_->Stats().idle, 0u);
}

TEST_F(SqlHandlerTest, TimeoutCancelsTheStatement) {
  const Handler handler = Make("SELECT pg_sleep(30), $1::bytea", milliseconds(200));
  try {
    RunJob(handler, SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(std::string(e.what()), "sql statement timed out after 200 ms");
    EXPECT_EQ(e.sqlstate(), "57014");
    EXPECT_TRUE(e.IsRetryable());
  }
  // Cancelled in autocommit: the connection is fine and is reused.
  EXPECT_EQ(observer_->closed.load(), 0);
  EXPECT_EQ(pool_->Stats().idle, 1u);
  RunJob(Make("INSERT INTO " + table_ + " (payload) VALUES ($1)"), SampleJob());
  EXPECT_EQ(Count("SELECT count(*) FROM " + table_), 1);
}

TEST_F(SqlHandlerTest, CancellationInterruptsTheStatement) {
  const Handler handler = Make("SELECT pg_sleep(30)", milliseconds(0));
  std::stop_source stop;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    stop.request_stop();
  });
  // A cancelled handler returns; the runtime records the job as cancelled.
  EXPECT_NO_THROW(RunJob(handler, SampleJob(), stop.get_token()));
  EXPECT_EQ(observer_->closed.load(), 0);
  EXPECT_EQ(pool_->Stats().idle, 1u);
}

TEST_F(SqlHandlerTest, ScheduleBindsNullAndEmptyObject) {
  const ScheduleHandler handler = MakeScheduleHandler(
      Sql("INSERT INTO " + table_ + " (payload, headers) VALUES ($1, $2::jsonb)"),
      HandlerDeps{pool_});
  ScheduleRow row;
  row.entrypoint = "nightly";
  row.expression = "0 3 * * *";
  Resources resources;
  ScheduleContext ctx{row, resources};
  handler(ctx);
  EXPECT_EQ(
      Count("SELECT count(*) FROM " + table_ + " WHERE payload IS NULL AND headers = '{}'::jsonb"),
      1);
}

}  // namespace
}  // namespace pgq::worker
