// Held-job retention against a real server (RetentionPolicy::held_older_than,
// src/queries/sql/prune_held_batch.sql): exactly the held jobs held longer
// than the cut-off go, with every log row of theirs; queued and picked jobs
// and other jobs' rows stay; statistics do not change; racing pruners share
// the work; `pgq prune --held-older-than` reports per entrypoint.

#include <gmock/gmock.h>

#include <latch>
#include <thread>

#include "retention_fixture.h"
#include "pgq/retention.h"

namespace pgq {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::RetentionPgTest;

constexpr auto kRetention = std::chrono::seconds(14 * 24h);

class HeldRetentionTest : public RetentionPgTest {
 protected:
  RetentionPolicy HeldPolicy(std::int64_t batch) {
    RetentionPolicy policy;
    policy.held_older_than = kRetention;
    policy.batch = batch;
    return policy;
  }
};

TEST_F(HeldRetentionTest, DeletesExactlyTheHeldJobsOlderThanTheCutoffWithTheirLogRows) {
  const auto old_a = RunJobs("held_a", 3, JobStatus::kFailed);
  const auto old_b = RunJobs("held_b", 2, JobStatus::kFailed);
  const auto young = RunJobs("held_a", 2, JobStatus::kFailed);
  const auto done = RunJobs("done", 2, JobStatus::kSuccessful);
  const auto queued = Enqueue("waiting", 2);
  Enqueue("busy", 1);
  const auto picked = Claim("busy", 1);
  ASSERT_TRUE(q().AggregateLogs());
  std::vector<JobId> old = old_a;
  old.insert(old.end(), old_b.begin(), old_b.end());
  for (const auto& other : {done, queued, picked}) old.insert(old.end(), other.begin(), other.end());
  AgeJobs(old, kRetention + 1h);
  // Held long ago but with log rows not aggregated yet: kept until they are.
  const auto late = RunJobs("held_late", 1, JobStatus::kFailed);
  AgeJobs(late, kRetention + 1h);
  const std::string statistics = StatisticsSnapshot();
  const std::int64_t log_before = Count("SELECT count(*) FROM " + Log());
  const std::int64_t queue_before = Count("SELECT count(*) FROM " + Queue());

  RetentionQueries retention(*driver_, settings());
  auto dry = HeldPolicy(2);
  dry.dry_run = true;
  const auto counted = retention.Prune(dry);
  EXPECT_TRUE(counted.ran);
  EXPECT_EQ(counted.held_jobs, 5);
  EXPECT_EQ(counted.held_log_rows, 15);
  EXPECT_EQ(counted.held_by_entrypoint, (std::map<std::string, std::int64_t>{{"held_a", 3},
                                                                             {"held_b", 2}}));
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), log_before);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Queue()), queue_before);

  const auto report = retention.Prune(HeldPolicy(2));  // small batches: the cursor is walked
  EXPECT_TRUE(report.ran);
  EXPECT_TRUE(report.complete);
  EXPECT_GE(report.batches, 3);
  EXPECT_EQ(report.held_jobs, 5);
  EXPECT_EQ(report.held_log_rows, 15);
  EXPECT_EQ(report.log_rows, 0);  // log retention is off
  EXPECT_EQ(report.held_by_entrypoint, counted.held_by_entrypoint);
  for (const auto& gone : {old_a, old_b}) {
    for (auto id : gone) {
      EXPECT_FALSE(InQueue(id)) << id;
      EXPECT_EQ(LogRowsOf(id), 0) << id;
    }
  }
  for (auto id : young) {
    EXPECT_TRUE(InQueue(id)) << id;
    EXPECT_EQ(LogRowsOf(id), 3) << id;
  }
  for (auto id : queued) {
    EXPECT_TRUE(InQueue(id)) << id;
    EXPECT_EQ(LogRowsOf(id), 1) << id;
  }
  EXPECT_TRUE(InQueue(picked[0]));
  EXPECT_EQ(LogRowsOf(picked[0]), 2);
  for (auto id : done) EXPECT_EQ(LogRowsOf(id), 3) << id;  // finished: log retention's business
  EXPECT_TRUE(InQueue(late[0]));
  EXPECT_EQ(LogRowsOf(late[0]), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), log_before - 15);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Queue()), queue_before - 5);
  EXPECT_EQ(StatisticsSnapshot(), statistics);

  // Once its rows are counted, the late job goes too; statistics still count
  // every log row ever written, deleted or not.
  ASSERT_TRUE(q().AggregateLogs());
  const std::string aggregated = StatisticsSnapshot();
  const auto second = retention.Prune(HeldPolicy(100));
  EXPECT_EQ(second.held_jobs, 1);
  EXPECT_EQ(second.held_log_rows, 3);
  EXPECT_FALSE(InQueue(late[0]));
  EXPECT_EQ(StatisticsSnapshot(), aggregated);
  EXPECT_EQ(Count("SELECT sum(count) FROM " + Stats()), log_before);
  EXPECT_EQ(retention.Prune(HeldPolicy(100)).held_jobs, 0);
}

TEST_F(HeldRetentionTest, ARequeuedJobIsNoLongerHeldAndStays) {
  const auto ids = RunJobs("held", 2, JobStatus::kFailed);
  ASSERT_TRUE(q().AggregateLogs());
  AgeJobs(ids, kRetention + 1h);
  // Requeued by an operator: status 'queued' again, so not held any more.
  admin().Execute("UPDATE " + Queue() + " SET status = 'queued' WHERE id = " +
                  std::to_string(ids[0]));
  RetentionQueries retention(*driver_, settings());
  const auto report = retention.Prune(HeldPolicy(100));
  EXPECT_EQ(report.held_jobs, 1);
  EXPECT_TRUE(InQueue(ids[0]));
  EXPECT_EQ(LogRowsOf(ids[0]), 3);
  EXPECT_FALSE(InQueue(ids[1]));
}

TEST_F(HeldRetentionTest, TwoRacingPrunersShareTheWorkWithoutErrors) {
  const auto held = RunJobs("held", 600, JobStatus::kFailed);
  ASSERT_TRUE(q().AggregateLogs());
  AgeJobs(held, kRetention + 1h);
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
        reports[i] = retention.Prune(HeldPolicy(25));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  racers.clear();  // joins
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_TRUE(reports[0].ran || reports[1].ran);
  EXPECT_EQ(reports[0].held_jobs + reports[1].held_jobs, 600);
  EXPECT_EQ(reports[0].held_log_rows + reports[1].held_log_rows, 1800);
  if (reports[0].held_jobs > 0 && reports[1].held_jobs > 0) {
    EXPECT_TRUE(reports[0].yielded || reports[1].yielded);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM " + Queue()), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 0);
  EXPECT_EQ(StatisticsSnapshot(), statistics);
}

TEST_F(HeldRetentionTest, PruneCommandCountsHeldJobsPerEntrypoint) {
  AgeJobs(RunJobs("held_x", 3, JobStatus::kFailed), kRetention + 1h);
  AgeJobs(RunJobs("held_y", 1, JobStatus::kFailed), kRetention + 1h);
  ASSERT_TRUE(q().AggregateLogs());
  const std::string prune = std::string(PGQ_BINARY) + " --dsn '" + dsn_ + "' --schema " +
                            settings().schema + " prune";
  const auto dry = testing::RunCommand(prune + " --held-older-than 14d --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("would delete 4 held jobs with 12 log rows"));
  EXPECT_THAT(dry.output, HasSubstr("held_x=3, held_y=1"));
  EXPECT_EQ(Count("SELECT count(*) FROM " + Queue()), 4);
  const auto run = testing::RunCommand(prune + " --held-older-than 14d");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("deleted 4 held jobs with 12 log rows"));
  EXPECT_EQ(Count("SELECT count(*) FROM " + Queue()), 0);
  const auto unitless = testing::RunCommand(prune + " --held-older-than 14");
  EXPECT_EQ(unitless.exit_code, 2) << unitless.output;
  EXPECT_THAT(unitless.output, HasSubstr("--held-older-than"));
}

}  // namespace
}  // namespace pgq
