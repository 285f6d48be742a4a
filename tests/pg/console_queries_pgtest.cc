// The job console's queries against a real server: the numbers they report,
// keyset pages that neither skip nor repeat a job, a job's detail with its
// log and a capped payload, held failures by entrypoint, requeue, and plans
// that walk indexes rather than the whole table.

#include <gmock/gmock.h>

#include <algorithm>

#include "pg_fixture.h"
#include "pgq/console_queries.h"
#include "queries/sql_files.h"

namespace pgq {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::QueriesPgTest;

constexpr auto kHeartbeatTimeout = std::chrono::microseconds(30s);

class ConsoleQueriesTest : public QueriesPgTest {
 protected:
  void SetUp() override {
    QueriesPgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    worker_ = Worker();
    console_ = std::make_unique<ConsoleQueries>(*driver_, settings());
  }

  std::vector<JobId> Enqueue(const std::string& entrypoint, int n,
                             std::chrono::microseconds after = {}) {
    std::vector<NewJob> jobs(static_cast<std::size_t>(n));
    for (auto& job : jobs) {
      job.entrypoint = entrypoint;
      job.execute_after = after;
    }
    std::vector<JobId> ids;
    for (const auto& id : q().Enqueue(jobs)) ids.push_back(*id);
    return ids;
  }
  std::vector<JobId> Claim(const std::string& entrypoint, int n) {
    std::vector<JobId> ids;
    for (const auto& job :
         q().Dequeue({n, {{entrypoint, 0}}, worker_, std::nullopt, kHeartbeatTimeout})) {
      ids.push_back(job.id);
    }
    return ids;
  }
  // Claims and holds (status 'failed') n jobs of the entrypoint.
  std::vector<JobId> Hold(const std::string& entrypoint, int n, const std::string& error) {
    Enqueue(entrypoint, n);
    const auto ids = Claim(entrypoint, n);
    std::vector<Completion> done;
    for (auto id : ids) {
      done.push_back({id, JobStatus::kFailed,
                      R"({"job_id": )" + std::to_string(id) +
                          R"(, "exception_type": "ValueError", "exception_message": ")" + error +
                          R"(", "traceback": "line 1"})"});
    }
    q().Complete(done);
    return ids;
  }
  // The plan of `statement` with these parameters, as text.
  std::string Plan(const std::string& statement, const Params& params) {
    const auto rows = admin().Fetch("EXPLAIN " + statement, params);
    std::string plan;
    for (std::size_t r = 0; r < rows.size(); ++r) plan += rows.Text(r, "QUERY PLAN") + "\n";
    return plan;
  }

  std::string worker_;
  std::unique_ptr<ConsoleQueries> console_;
};

TEST_F(ConsoleQueriesTest, OverviewAndBacklogCountWhatTheQueueTableHolds) {
  EXPECT_EQ(console_->Overview().queued, 0);
  EXPECT_FALSE(console_->Overview().oldest_wait_seconds.has_value());

  Enqueue("alpha", 4);
  Enqueue("beta", 2, std::chrono::hours(1));  // queued, not eligible yet
  Claim("alpha", 1);
  Hold("gamma", 2, "boom");
  admin().Execute("UPDATE " + settings().QueueTable() +
                  " SET execute_after = NOW() - INTERVAL '90 seconds' WHERE entrypoint = 'alpha'"
                  " AND status = 'queued'");

  const auto overview = console_->Overview();
  EXPECT_EQ(overview.queued, 5);
  EXPECT_EQ(overview.picked, 1);
  EXPECT_EQ(overview.failed, 2);
  ASSERT_TRUE(overview.oldest_wait_seconds.has_value());
  EXPECT_GE(*overview.oldest_wait_seconds, 90.0);
  EXPECT_LT(*overview.oldest_wait_seconds, 3600.0);

  const auto backlog = console_->Backlog();
  ASSERT_EQ(backlog.size(), 3u);
  EXPECT_EQ(backlog[0].entrypoint, "alpha");  // most jobs first
  EXPECT_EQ(backlog[0].queued, 3);
  EXPECT_EQ(backlog[0].picked, 1);
  EXPECT_EQ(backlog[0].failed, 0);
  EXPECT_TRUE(backlog[0].oldest_wait_seconds.has_value());
  EXPECT_EQ(backlog[1].entrypoint, "beta");  // ties by name
  EXPECT_EQ(backlog[1].queued, 2);
  EXPECT_FALSE(backlog[1].oldest_wait_seconds.has_value());  // none eligible
  EXPECT_EQ(backlog[2].entrypoint, "gamma");
  EXPECT_EQ(backlog[2].failed, 2);
  EXPECT_EQ(console_->Backlog(1).size(), 1u);
}

TEST_F(ConsoleQueriesTest, KeysetPagesWalkEveryJobOnceNewestFirst) {
  auto ids = Enqueue("page", 7);
  const auto others = Enqueue("other", 3);
  ids.insert(ids.end(), others.begin(), others.end());
  std::sort(ids.rbegin(), ids.rend());

  std::vector<JobId> seen;
  JobFilter filter;
  filter.limit = 3;
  int pages = 0;
  for (;;) {
    const JobPage page = console_->ListJobs(filter);
    ++pages;
    ASSERT_LE(page.jobs.size(), 3u);
    for (const auto& job : page.jobs) seen.push_back(job.id);
    if (!page.next_before) break;
    EXPECT_EQ(*page.next_before, page.jobs.back().id);
    filter.before = page.next_before;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 4);  // 3 + 3 + 3 + 1

  // Exactly a page's worth: no empty page after it.
  JobFilter exact;
  exact.entrypoint = "other";
  exact.limit = 3;
  const auto only = console_->ListJobs(exact);
  EXPECT_EQ(only.jobs.size(), 3u);
  EXPECT_FALSE(only.next_before.has_value());
  for (const auto& job : only.jobs) EXPECT_EQ(job.entrypoint, "other");
}

TEST_F(ConsoleQueriesTest, FiltersByStatusEntrypointAndId) {
  const auto queued = Enqueue("mix", 3);
  const auto picked = Claim("mix", 1);
  const auto held = Hold("mix_held", 1, "bad");

  JobFilter by_status;
  by_status.status = JobStatus::kPicked;
  const auto p = console_->ListJobs(by_status);
  ASSERT_EQ(p.jobs.size(), 1u);
  EXPECT_EQ(p.jobs[0].id, picked[0]);
  EXPECT_EQ(p.jobs[0].status, JobStatus::kPicked);
  EXPECT_EQ(p.jobs[0].queue_manager_id, worker_);

  JobFilter failed;
  failed.status = JobStatus::kFailed;
  failed.entrypoint = "mix";
  EXPECT_TRUE(console_->ListJobs(failed).jobs.empty());
  failed.entrypoint = "mix_held";
  ASSERT_EQ(console_->ListJobs(failed).jobs.size(), 1u);
  EXPECT_EQ(console_->ListJobs(failed).jobs[0].id, held[0]);

  JobFilter by_id;
  by_id.id = queued[1];
  const auto one = console_->ListJobs(by_id);
  ASSERT_EQ(one.jobs.size(), 1u);
  EXPECT_EQ(one.jobs[0].id, queued[1]);
  by_id.id = 999999999;
  EXPECT_TRUE(console_->ListJobs(by_id).jobs.empty());

  // A page size beyond the cap is clamped, not refused.
  JobFilter huge;
  huge.limit = 1'000'000;
  EXPECT_EQ(console_->ListJobs(huge).jobs.size(), 4u);
}

TEST_F(ConsoleQueriesTest, DetailHasTheRowACappedPayloadAndTheLogNewestFirst) {
  NewJob job;
  job.entrypoint = "detail";
  job.payload = std::string("\xff\x00<script>alert(1)</script>", 27) + std::string(5000, 'x');
  job.headers = R"({"trace": "t-1"})";
  job.dedupe_key = "key-1";
  const JobId id = q().Enqueue(job);
  Claim("detail", 1);
  q().Complete({{id, JobStatus::kFailed,
                 std::string(R"({"exception_type": "KeyError", "exception_message": "k"})")}});

  const JobDetail detail = console_->Detail(id, 16, 100);
  ASSERT_TRUE(detail.job.has_value());
  EXPECT_EQ(detail.job->id, id);
  EXPECT_EQ(detail.job->status, JobStatus::kFailed);
  EXPECT_EQ(detail.job->dedupe_key, std::optional<std::string>("key-1"));
  EXPECT_THAT(detail.job->headers, HasSubstr("t-1"));
  ASSERT_TRUE(detail.job->payload.has_value());
  EXPECT_EQ(*detail.job->payload, std::string("\xff\x00<script>alert(1", 16));
  EXPECT_EQ(detail.payload_bytes, std::optional<std::int64_t>(27 + 5000));
  std::vector<JobStatus> statuses;
  for (const auto& entry : detail.log) statuses.push_back(entry.status);
  EXPECT_THAT(statuses, ElementsAre(JobStatus::kFailed, JobStatus::kPicked, JobStatus::kQueued));
  ASSERT_TRUE(detail.traceback.has_value());
  EXPECT_THAT(*detail.traceback, HasSubstr("KeyError"));
  EXPECT_EQ(console_->Detail(id, 100, 2).log.size(), 2u);

  // A finished job has left the queue table; its log history remains.
  const JobId done = Enqueue("detail", 1)[0];
  Claim("detail", 1);
  q().Complete({{done, JobStatus::kSuccessful, std::nullopt}});
  const JobDetail finished = console_->Detail(done);
  EXPECT_FALSE(finished.job.has_value());
  ASSERT_EQ(finished.log.size(), 3u);
  EXPECT_EQ(finished.log[0].status, JobStatus::kSuccessful);
  EXPECT_FALSE(finished.traceback.has_value());

  const JobDetail none = console_->Detail(987654321);
  EXPECT_FALSE(none.job.has_value());
  EXPECT_TRUE(none.log.empty());
}

TEST_F(ConsoleQueriesTest, FailuresAreGroupedByEntrypointWithTheLatestError) {
  Hold("small", 1, "only one");
  const auto big = Hold("big", 3, "many");
  Enqueue("big", 2);  // queued jobs are not failures

  const auto groups = console_->Failures();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].entrypoint, "big");
  EXPECT_EQ(groups[0].jobs, 3);
  EXPECT_EQ(groups[0].newest_id, *std::max_element(big.begin(), big.end()));
  EXPECT_EQ(groups[0].exception_type, std::optional<std::string>("ValueError"));
  EXPECT_EQ(groups[0].exception_message, std::optional<std::string>("many"));
  EXPECT_LE(groups[0].first_held, groups[0].last_held);
  EXPECT_EQ(groups[1].entrypoint, "small");
  EXPECT_EQ(groups[1].exception_message, std::optional<std::string>("only one"));
  EXPECT_EQ(console_->Failures(1).size(), 1u);
}

TEST_F(ConsoleQueriesTest, RequeueMovesOnlyHeldJobsBackAndLogsIt) {
  const auto held = Hold("again", 2, "x");
  const auto queued = Enqueue("again", 1);
  EXPECT_EQ(console_->Requeue({held[0], queued[0], 123456789}), 1);
  EXPECT_EQ(console_->Requeue({}), 0);

  const JobDetail detail = console_->Detail(held[0]);
  ASSERT_TRUE(detail.job.has_value());
  EXPECT_EQ(detail.job->status, JobStatus::kQueued);
  EXPECT_EQ(detail.job->attempts, 0);
  EXPECT_EQ(detail.log.front().status, JobStatus::kQueued);
  EXPECT_EQ(console_->Overview().failed, 1);
  // It runs again.
  EXPECT_THAT(Claim("again", 5), ::testing::UnorderedElementsAre(held[0], queued[0]));
}

TEST_F(ConsoleQueriesTest, JobListAndJobLogPlansUseIndexes) {
  const std::string queue = settings().QueueTable();
  const std::string log = settings().LogTable();
  admin().Execute("INSERT INTO " + queue +
                  " (priority, status, entrypoint) SELECT 0, 'queued', 'bulk' "
                  "FROM generate_series(1, 20000)");
  Enqueue("rare", 3);
  admin().Execute("INSERT INTO " + log +
                  " (job_id, status, priority, entrypoint) SELECT g % 20000, 'queued', 0, 'bulk' "
                  "FROM generate_series(1, 40000) AS g");
  admin().Execute("ANALYZE " + queue);
  admin().Execute("ANALYZE " + log);

  const std::string jobs = detail::SqlStatement("console_jobs", settings());
  const std::string pkey = settings().queue_table + "_pkey";
  const std::vector<Params> cases = {
      {std::nullopt, std::nullopt, std::nullopt, std::nullopt, "51"},  // first page
      {std::nullopt, std::nullopt, std::nullopt, "10000", "51"},       // deep page
      {std::nullopt, "bulk", std::nullopt, std::nullopt, "51"},        // by entrypoint
      {"queued", "rare", std::nullopt, std::nullopt, "51"},            // a rare queued one
      {"queued", "bulk", std::nullopt, "5000", "51"},                  // both, deep
      {std::nullopt, std::nullopt, "17", std::nullopt, "51"},          // by id
  };
  for (const auto& params : cases) {
    const std::string plan = Plan(jobs, params);
    EXPECT_THAT(plan, HasSubstr("Index")) << plan;
    EXPECT_THAT(plan, Not(HasSubstr("Seq Scan"))) << plan;
  }
  // The unfiltered pages walk the primary key backwards: no sort at all.
  const std::string deep = Plan(jobs, cases[1]);
  EXPECT_THAT(deep, HasSubstr("Index Scan Backward using " + pkey)) << deep;
  EXPECT_THAT(deep, Not(HasSubstr("Sort"))) << deep;

  // The worker prepares its statements, so the generic plan counts too.
  admin().Execute("PREPARE console_jobs_generic AS " + jobs);
  admin().Execute("SET plan_cache_mode = force_generic_plan");
  const std::string generic = Plan("EXECUTE console_jobs_generic(NULL, NULL, NULL, 10000, 51)", {});
  EXPECT_THAT(generic, HasSubstr("Index Scan Backward using " + pkey)) << generic;
  EXPECT_THAT(generic, Not(HasSubstr("Seq Scan"))) << generic;
  admin().Execute("RESET plan_cache_mode");

  const std::string job_log =
      Plan(detail::SqlStatement("console_job_log", settings()), {"4242", "100"});
  EXPECT_THAT(job_log, HasSubstr("Index")) << job_log;
  EXPECT_THAT(job_log, Not(HasSubstr("Seq Scan"))) << job_log;
  const std::string job = Plan(detail::SqlStatement("console_job", settings()), {"4242", "4096"});
  EXPECT_THAT(job, HasSubstr("Index Scan using " + pkey)) << job;
}

}  // namespace
}  // namespace pgq
