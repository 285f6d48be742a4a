// Retention against a real server: which rows a prune may delete, that
// statistics do not change, that the fleet prunes one process at a time, and
// that a prune batch holding its transaction blocks no queue operation.

#include <gmock/gmock.h>

#include <atomic>
#include <latch>
#include <thread>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "retention_fixture.h"
#include "pgq/pqxx.h"
#include "pgq/retention.h"

namespace pgq {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::RetentionPgTest;

constexpr auto kWeek = std::chrono::seconds(7 * 24h);

class RetentionTest : public RetentionPgTest {
 protected:
  RetentionPolicy LogPolicy(std::int64_t batch) {
    RetentionPolicy policy;
    policy.log_older_than = kWeek;
    policy.batch = batch;
    return policy;
  }
};

TEST_F(RetentionTest, PrunesOnlyOldAggregatedRowsOfFinishedJobs) {
  const auto young = RunJobs("young", 2);               // finished, aggregated, young
  const auto ok = RunJobs("done", 3);                    // finished: successful
  const auto bad = RunJobs("done", 2, JobStatus::kException);
  const auto held = RunJobs("held", 1, JobStatus::kFailed);  // stays in the queue table
  Enqueue("busy", 2);
  const auto picked = Claim("busy", 1);                  // in flight
  const auto queued = Enqueue("waiting", 1);             // never claimed
  ASSERT_TRUE(q().AggregateLogs());
  std::vector<JobId> old = ok;
  old.insert(old.end(), bad.begin(), bad.end());
  old.insert(old.end(), held.begin(), held.end());
  old.insert(old.end(), picked.begin(), picked.end());
  old.insert(old.end(), queued.begin(), queued.end());
  AgeLog(old, kWeek + 1h);
  AgeLog(Claim("busy", 1), kWeek + 1h);                      // picked after aggregation: not aggregated
  const auto late = RunJobs("late", 2);                   // finished, old, not aggregated yet
  AgeLog(late, kWeek + 1h);
  const std::string statistics = StatisticsSnapshot();
  const std::int64_t log_before = Count("SELECT count(*) FROM " + Log());

  RetentionQueries retention(*driver_, settings());
  auto dry = LogPolicy(2);
  dry.dry_run = true;
  const auto counted = retention.Prune(dry);
  EXPECT_EQ(counted.log_rows, 15);  // 5 finished old jobs, three rows each
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), log_before);

  const auto report = retention.Prune(LogPolicy(2));  // small batches: the cursor is walked
  EXPECT_TRUE(report.ran);
  EXPECT_TRUE(report.complete);
  EXPECT_GT(report.batches, 3);
  EXPECT_EQ(report.log_rows, 15);
  for (auto id : ok) EXPECT_EQ(LogRowsOf(id), 0) << id;
  for (auto id : bad) EXPECT_EQ(LogRowsOf(id), 0) << id;
  EXPECT_EQ(LogRowsOf(held[0]), 3);    // queued, picked, failed: the job is held
  EXPECT_EQ(LogRowsOf(picked[0]), 2);  // queued, picked: in flight
  EXPECT_EQ(LogRowsOf(queued[0]), 1);
  for (auto id : late) EXPECT_EQ(LogRowsOf(id), 3) << id;   // not aggregated yet
  for (auto id : young) EXPECT_EQ(LogRowsOf(id), 3) << id;  // younger than the cutoff
  EXPECT_EQ(StatisticsSnapshot(), statistics);

  // Once aggregated, the late rows go too; statistics count every row ever
  // logged, pruned or not.
  ASSERT_TRUE(q().AggregateLogs());
  EXPECT_EQ(retention.Prune(LogPolicy(100)).log_rows, 6);
  EXPECT_EQ(Count("SELECT sum(count) FROM " + Stats()), log_before);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), log_before - 21);
}

TEST_F(RetentionTest, PrunesStatisticsOlderThanTheCutoff) {
  const auto old = RunJobs("old", 3);
  AgeLog(old, 100 * 24h);
  RunJobs("new", 2);
  ASSERT_TRUE(q().AggregateLogs());
  const auto old_rows = Count("SELECT count(*) FROM " + Stats() + " WHERE entrypoint = 'old'");
  ASSERT_GT(old_rows, 0);
  const auto new_stats =
      Scalar("SELECT sum(count) FROM " + Stats() + " WHERE entrypoint = 'new'");

  RetentionQueries retention(*driver_, settings());
  RetentionPolicy policy;
  policy.statistics_older_than = std::chrono::seconds(90 * 24h);
  policy.batch = 1;
  policy.dry_run = true;
  EXPECT_EQ(retention.Prune(policy).statistics_rows, old_rows);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Stats() + " WHERE entrypoint = 'old'"), old_rows);
  policy.dry_run = false;
  const auto report = retention.Prune(policy);
  EXPECT_EQ(report.statistics_rows, old_rows);
  EXPECT_EQ(report.log_rows, 0);  // log retention is off
  EXPECT_EQ(Count("SELECT count(*) FROM " + Stats() + " WHERE entrypoint = 'old'"), 0);
  EXPECT_EQ(Scalar("SELECT sum(count) FROM " + Stats() + " WHERE entrypoint = 'new'"), new_stats);
}

TEST_F(RetentionTest, SkipsWhileAnotherProcessHoldsThePruneLock) {
  AgeLog(RunJobs("done", 2), kWeek + 1h);
  ASSERT_TRUE(q().AggregateLogs());
  pqxx::connection holder(dsn_);
  pqxx::work tx(holder);
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('" + Log() + "'), hashtext('pgq prune'))");
  RetentionQueries retention(*driver_, settings());
  const auto skipped = retention.Prune(LogPolicy(100));
  EXPECT_FALSE(skipped.ran);
  EXPECT_EQ(skipped.log_rows, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 6);
  tx.abort();
  EXPECT_EQ(retention.Prune(LogPolicy(100)).log_rows, 6);
}

TEST_F(RetentionTest, TwoRacingPrunersShareTheWorkWithoutErrors) {
  AgeLog(RunJobs("done", 1000), kWeek + 1h);
  ASSERT_TRUE(q().AggregateLogs());
  const std::string statistics = StatisticsSnapshot();
  std::latch go(2);
  PruneReport reports[2];
  std::string errors[2];
  std::vector<std::jthread> racers;
  for (int i = 0; i < 2; ++i) {
    racers.emplace_back([&, i] {
      try {
        ConnectionDriver own(Options());
        RetentionQueries retention(own, settings());
        go.arrive_and_wait();
        reports[i] = retention.Prune(LogPolicy(50));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  racers.clear();  // joins
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(reports[0].log_rows + reports[1].log_rows, 3000);
  EXPECT_TRUE(reports[0].ran || reports[1].ran);
  // Both deleted rows only if one handed over to the other between batches.
  if (reports[0].log_rows > 0 && reports[1].log_rows > 0) {
    EXPECT_TRUE(reports[0].yielded || reports[1].yielded);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 0);
  EXPECT_EQ(StatisticsSnapshot(), statistics);
}

TEST_F(RetentionTest, QueueWorkProceedsWhileAPruneBatchHoldsItsTransaction) {
  AgeLog(RunJobs("done", 200), kWeek + 1h);
  ASSERT_TRUE(q().AggregateLogs());
  // Every statement below fails instead of hanging if the prune blocks it.
  driver_->Execute("SET statement_timeout = '5s'");

  pqxx::connection pruning(dsn_);
  pqxx::work tx(pruning);
  TransactionExecutor in_tx(tx);
  RetentionQueries held(in_tx, settings());
  const auto report = held.Prune(LogPolicy(10'000));  // deleted, not yet committed
  ASSERT_EQ(report.log_rows, 600);

  const auto ids = Enqueue("live", 20);
  const auto claimed = Claim("live", 20);
  EXPECT_EQ(claimed.size(), 20u);
  Finish(claimed, JobStatus::kSuccessful);
  EXPECT_TRUE(q().AggregateLogs());  // PgQueuer's aggregation is not blocked either
  EXPECT_EQ(q().QueueSize().size(), 0u);
  // Another pruner skips instead of waiting.
  RetentionQueries other(*driver_, settings());
  EXPECT_FALSE(other.Prune(LogPolicy(100)).ran);

  tx.commit();
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log() + " WHERE entrypoint = 'done'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log() + " WHERE entrypoint = 'live'"), 60);
  for (auto id : ids) EXPECT_EQ(LogRowsOf(id), 3) << id;
}

TEST_F(RetentionTest, ReportsTableSizesAndUnaggregatedRows) {
  RunJobs("done", 5);
  RetentionQueries retention(*driver_, settings());
  EXPECT_EQ(retention.UnaggregatedLogRows(), 15);
  EXPECT_EQ(retention.UnaggregatedLogRows(4), 4);
  ASSERT_TRUE(q().AggregateLogs());
  EXPECT_EQ(retention.UnaggregatedLogRows(), 0);
  admin().Execute("ANALYZE " + Log());
  const auto sizes = retention.TableSizes();
  ASSERT_EQ(sizes.size(), 4u);
  EXPECT_EQ(sizes[0].table, "queue");
  EXPECT_EQ(sizes[1].table, "log");
  EXPECT_EQ(sizes[1].estimated_rows, 15);
  EXPECT_EQ(sizes[2].table, "statistics");
  EXPECT_EQ(sizes[3].table, "schedules");
  for (const auto& size : sizes) EXPECT_GT(size.bytes, 0) << size.table;
}

TEST_F(RetentionTest, PruneCommandReportsDryRunsAndSkipsWhileLocked) {
  AgeLog(RunJobs("done", 4), kWeek + 1h);
  ASSERT_TRUE(q().AggregateLogs());
  const std::string prune = std::string(PGQ_BINARY) + " --dsn '" + dsn_ + "' --schema " +
                            settings().schema + " prune";
  const auto dry = testing::RunCommand(prune + " --log-older-than 7d --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("would delete 12 log rows"));
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 12);
  {
    pqxx::connection holder(dsn_);
    pqxx::work tx(holder);
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('" + Log() + "'), hashtext('pgq prune'))");
    const auto locked = testing::RunCommand(prune + " --log-older-than 7d");
    EXPECT_EQ(locked.exit_code, 3) << locked.output;
    EXPECT_THAT(locked.output, HasSubstr("another process holds the prune lock"));
  }
  const auto run =
      testing::RunCommand(prune + " --log-older-than 7d --statistics-older-than 90d --batch 5");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("deleted 12 log rows"));
  EXPECT_THAT(run.output, HasSubstr("deleted 0 statistics rows"));
  EXPECT_THAT(run.output, HasSubstr("batches of up to 5 rows"));
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 0);
  const auto nothing = testing::RunCommand(prune);
  EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
  const auto unitless = testing::RunCommand(prune + " --log-older-than 7");
  EXPECT_EQ(unitless.exit_code, 2) << unitless.output;
  EXPECT_THAT(unitless.output, HasSubstr("--log-older-than"));
}

}  // namespace
}  // namespace pgq
