// Queue statements against a real server (spec section 3).

#include <gmock/gmock.h>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/connection>
#include <pqxx/transaction>

#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/pool.h"
#include "pgq/pqxx.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::QueriesPgTest;
using std::chrono::seconds;

constexpr auto kHeartbeatTimeout = std::chrono::microseconds(std::chrono::seconds(30));

// Whether any queued job of these entrypoints exists (eligible_only: with
// execute_after <= NOW()). Test-only views of ProbeQueue.
bool HasQueuedWork(JobQueries& queries, const std::vector<std::string>& entrypoints,
                   bool eligible_only = false) {
  const auto probe = queries.ProbeQueue(entrypoints);
  return eligible_only ? probe.eligible : probe.queued;
}

// Time until the next deferred queued job becomes eligible, if any.
std::optional<std::chrono::microseconds> NextDeferredEta(
    JobQueries& queries, const std::vector<std::string>& entrypoints) {
  return queries.ProbeQueue(entrypoints).next_eta;
}

NewJob MakeJob(std::string entrypoint, std::int32_t priority = 0,
               std::optional<std::string> dedupe = std::nullopt) {
  NewJob job;
  job.entrypoint = std::move(entrypoint);
  job.priority = priority;
  job.dedupe_key = std::move(dedupe);
  return job;
}

class QueriesTest : public QueriesPgTest {
 protected:
  std::int64_t LogRows(const std::string& status, std::optional<JobId> id = std::nullopt) {
    if (id) {
      return Count("SELECT count(*) FROM " + settings().LogTable() +
                       " WHERE status = $1::text::" + settings().StatusType() + " AND job_id = $2",
                   {status, std::to_string(*id)});
    }
    return Count("SELECT count(*) FROM " + settings().LogTable() + " WHERE status = $1::text::" +
                     settings().StatusType(),
                 {status});
  }
  std::int64_t QueueRows(const std::string& where = "TRUE") {
    return Count("SELECT count(*) FROM " + settings().QueueTable() + " WHERE " + where);
  }
};

TEST_F(QueriesTest, BatchEnqueueReturnsIdsInInputOrderAndLogsQueued) {
  std::vector<NewJob> jobs;
  for (int i = 0; i < 5; ++i) {
    auto job = MakeJob("ep" + std::to_string(i % 2), i);
    job.payload = std::string("p\0q", 3) + std::to_string(i);
    jobs.push_back(job);
  }
  auto ids = q().Enqueue(jobs);
  ASSERT_EQ(ids.size(), 5u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(ids[i]);
    EXPECT_EQ(Scalar("SELECT priority FROM " + settings().QueueTable() + " WHERE id = $1",
                     {std::to_string(*ids[i])}),
              std::to_string(i));
    EXPECT_EQ(Scalar("SELECT encode(payload, 'hex') FROM " + settings().QueueTable() +
                         " WHERE id = $1",
                     {std::to_string(*ids[i])}),
              "700071" + [&] {
                std::string hex;
                for (char c : std::to_string(i)) {
                  char buf[3];
                  std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(c));
                  hex += buf;
                }
                return hex;
              }());
  }
  EXPECT_EQ(LogRows("queued"), 5);
  EXPECT_EQ(QueueRows("status = 'queued' AND queue_manager_id IS NULL AND attempts = 0"), 5);
  // Jobs without headers store the JSON value null, not SQL NULL.
  EXPECT_EQ(QueueRows("headers = 'null'::jsonb"), 5);
}

TEST_F(QueriesTest, ThousandsOfJobsInOneStatement) {
  std::vector<NewJob> jobs(5000, MakeJob("bulk"));
  const auto before = Count("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
  auto ids = q().Enqueue(jobs);
  EXPECT_EQ(ids.size(), 5000u);
  std::set<JobId> unique;
  for (const auto& id : ids) unique.insert(*id);
  EXPECT_EQ(unique.size(), 5000u);
  EXPECT_EQ(QueueRows(), 5000);
  EXPECT_EQ(LogRows("queued"), 5000);
  (void)before;
}

TEST_F(QueriesTest, HeadersRoundTripAndNonObjectsAreRejected) {
  auto job = MakeJob("h");
  job.headers = R"({"otel": {"traceparent": "00-abc-def-01"}, "n": 1})";
  const auto id = q().Enqueue(job);
  auto jobs = q().Dequeue({10, {{"h", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id);
  EXPECT_EQ(nlohmann::json::parse(jobs[0].headers)["otel"]["traceparent"], "00-abc-def-01");
  job.headers = "[1, 2]";
  EXPECT_THROW(q().Enqueue(job), LogicError);
  job.headers = "not json";
  EXPECT_THROW(q().Enqueue(job), LogicError);
  EXPECT_EQ(QueueRows(), 1);
}

TEST_F(QueriesTest, DedupeRaiseRejectsWholeBatchAndNamesKeys) {
  q().Enqueue(MakeJob("d", 0, "k1"));
  try {
    q().Enqueue({MakeJob("d", 0, "k0"), MakeJob("d", 0, "k1"), MakeJob("d", 0, "k2"),
                 MakeJob("d", 0, "k2")});
    FAIL() << "duplicate accepted";
  } catch (const DuplicateJobError& e) {
    EXPECT_THAT(e.dedupe_keys(), ::testing::IsSupersetOf({std::string("k1"), std::string("k2")}));
    EXPECT_THAT(e.what(), HasSubstr("k1"));
  }
  EXPECT_EQ(QueueRows(), 1);  // nothing of the batch was inserted
  EXPECT_EQ(LogRows("queued"), 1);
}

TEST_F(QueriesTest, DedupeSkipLeavesEmptySlotsAndNoLogRows) {
  q().Enqueue(MakeJob("d", 0, "k1"));
  auto ids = q().Enqueue({MakeJob("d", 0, "k0"), MakeJob("d", 0, "k1"), MakeJob("d", 0),
                          MakeJob("d", 0, "k0")},
                         OnConflict::kSkip);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_TRUE(ids[0]);
  EXPECT_FALSE(ids[1]);
  EXPECT_TRUE(ids[2]);
  EXPECT_FALSE(ids[3]);  // repeat inside the batch: the first one wins
  EXPECT_EQ(QueueRows(), 3);
  EXPECT_EQ(LogRows("queued"), 3);
}

TEST_F(QueriesTest, DedupeKeyIsReleasedWhenJobCompletesOrIsHeld) {
  const auto id = q().Enqueue(MakeJob("d", 0, "once"));
  q().Dequeue({1, {{"d", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  EXPECT_THROW(q().Enqueue(MakeJob("d", 0, "once")), DuplicateJobError);  // picked still holds it
  q().Complete({{id, JobStatus::kFailed, R"({"reason": "x"})"}});
  EXPECT_NO_THROW(q().Enqueue(MakeJob("d", 0, "once")));
}

TEST_F(QueriesTest, TransactionalEnqueueCommitsWithCallerData) {
  pqxx::connection connection(dsn_);
  {
    pqxx::work tx(connection);
    TransactionExecutor executor(tx);
    ProducerQueries producer(executor, settings());
    producer.Enqueue(MakeJob("tx"));
    EXPECT_EQ(QueueRows(), 0);  // not visible before commit
    tx.commit();
  }
  EXPECT_EQ(QueueRows(), 1);
  {
    pqxx::work tx(connection);
    TransactionExecutor executor(tx);
    ProducerQueries(executor, settings()).Enqueue(MakeJob("tx"));
    tx.abort();
  }
  EXPECT_EQ(QueueRows(), 1);
  EXPECT_EQ(LogRows("queued"), 1);
}

TEST_F(QueriesTest, DequeueOrdersByPriorityThenIdAndLogsPicks) {
  auto ids = q().Enqueue({MakeJob("a", 1), MakeJob("b", 5), MakeJob("a", 5), MakeJob("b", 0)});
  const auto worker = Worker();
  auto jobs = q().Dequeue({3, {{"a", 0}, {"b", 0}}, worker, std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].id, *ids[1]);
  EXPECT_EQ(jobs[1].id, *ids[2]);
  EXPECT_EQ(jobs[2].id, *ids[0]);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.status, JobStatus::kPicked);
    EXPECT_EQ(job.queue_manager_id, worker);
  }
  EXPECT_EQ(LogRows("picked"), 3);
  EXPECT_EQ(QueueRows("status = 'picked' AND queue_manager_id = '" + worker + "'"), 3);
}

TEST_F(QueriesTest, ClaimWritesAnyEntrypointNameInAsALiteral) {
  // The unlimited claim carries the entrypoint names as a literal, not a
  // parameter: quotes, backslashes, commas, braces and "$1" must still only
  // ever match themselves, with standard_conforming_strings on or off.
  const std::vector<std::string> names = {"it's", "back\\slash", "a,b", "{x}", "$1", "\"q\""};
  std::vector<EntrypointLimit> wanted;
  for (const auto& name : names) wanted.push_back({name, 0});
  q().Enqueue({MakeJob("other"), MakeJob("back\\\\slash")});
  for (const char* conforming : {"off", "on"}) {
    SCOPED_TRACE(std::string("standard_conforming_strings = ") + conforming);
    std::vector<NewJob> jobs;
    for (const auto& name : names) jobs.push_back(MakeJob(name));
    q().Enqueue(jobs);
    ConnectionDriver driver(Options());
    driver.Execute("SET escape_string_warning = off");
    driver.Execute(std::string("SET standard_conforming_strings = ") + conforming);
    Queries queries(driver, settings());
    std::multiset<std::string> got;
    for (const auto& job : queries.Dequeue({100, wanted, Worker(), std::nullopt, kHeartbeatTimeout})) {
      got.insert(job.entrypoint);
    }
    EXPECT_EQ(got, std::multiset<std::string>(names.begin(), names.end()));
  }
  // Neither the unrelated entrypoint nor the one with a doubled backslash was claimed.
  EXPECT_EQ(QueueRows("status = 'queued'"), 2);
}

TEST_F(QueriesTest, DeferredJobsWaitForExecuteAfter) {
  auto later = MakeJob("later");
  later.execute_after = std::chrono::hours(1);
  auto now = MakeJob("later");
  now.execute_after = -std::chrono::seconds(5);
  q().Enqueue({later, now});
  auto jobs = q().Dequeue({10, {{"later", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_FALSE(HasQueuedWork(q(), {"later"}, /*eligible_only=*/true));
  EXPECT_TRUE(HasQueuedWork(q(), {"later"}));
  auto eta = NextDeferredEta(q(), {"later"});
  ASSERT_TRUE(eta);
  EXPECT_GT(*eta, std::chrono::minutes(59));
  EXPECT_LE(*eta, std::chrono::hours(1));
}

TEST_F(QueriesTest, RacingPickersGetDisjointJobs) {
  std::vector<NewJob> jobs(400, MakeJob("race"));
  q().Enqueue(jobs);
  std::vector<std::vector<JobId>> claimed(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ConnectionDriver driver(Options());
      Queries queries(driver, settings());
      const std::string worker = "00000000-0000-0000-0000-00000000000" + std::to_string(t);
      for (;;) {
        auto batch = queries.Dequeue({7, {{"race", 0}}, worker, std::nullopt, kHeartbeatTimeout});
        if (batch.empty()) break;
        for (const auto& job : batch) claimed[t].push_back(job.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<JobId> all;
  std::size_t total = 0;
  for (const auto& ids : claimed) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, 400u);
  EXPECT_EQ(all.size(), 400u);  // nobody got a job twice
  EXPECT_EQ(LogRows("picked"), 400);
}

TEST_F(QueriesTest, ConcurrencyLimitHoldsAcrossFourConnections) {
  std::vector<NewJob> jobs(200, MakeJob("limited"));
  q().Enqueue(jobs);
  q().Enqueue(std::vector<NewJob>(50, MakeJob("free")));
  constexpr int kLimit = 3;
  std::atomic<int> over{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ConnectionDriver driver(Options());
      Queries queries(driver, settings());
      const std::string worker = "00000000-0000-0000-0000-0000000000a" + std::to_string(t);
      while (done.load() < 200) {
        auto batch = queries.Dequeue({5, {{"limited", kLimit}, {"free", 0}}, worker,
                                     std::nullopt, kHeartbeatTimeout});
        std::vector<Completion> finished;
        for (const auto& job : batch) {
          if (job.entrypoint != "limited") {
            finished.push_back({job.id, JobStatus::kSuccessful, std::nullopt});
            continue;
          }
          // Count in-flight rows of the limited entrypoint fleet-wide while
          // this worker holds its claim.
          auto rows = driver.Fetch("SELECT count(*) AS n FROM " + settings().QueueTable() +
                                   " WHERE entrypoint = 'limited' AND queue_manager_id IS NOT NULL");
          if (rows.Int(0, "n") > kLimit) ++over;
          finished.push_back({job.id, JobStatus::kSuccessful, std::nullopt});
          ++done;
        }
        queries.Complete(finished);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(LogRows("successful"), 250);
}

TEST_F(QueriesTest, TightLimitDoesNotThrottleOtherEntrypoints) {
  q().Enqueue(std::vector<NewJob>(5, MakeJob("serial")));
  q().Enqueue(std::vector<NewJob>(5, MakeJob("wide")));
  auto jobs = q().Dequeue({10, {{"serial", 1}, {"wide", 0}}, Worker(), std::nullopt,
                          kHeartbeatTimeout});
  int serial = 0, wide = 0;
  for (const auto& job : jobs) (job.entrypoint == "serial" ? serial : wide)++;
  EXPECT_EQ(serial, 1);
  EXPECT_EQ(wide, 5);
  // The serial slot stays taken until that job completes.
  EXPECT_TRUE(q().Dequeue({10, {{"serial", 1}}, Worker(), std::nullopt, kHeartbeatTimeout}).empty());
}

TEST_F(QueriesTest, PerWorkerCapHoldsMidBatch) {
  q().Enqueue(std::vector<NewJob>(20, MakeJob("cap")));
  const auto worker = Worker();
  EXPECT_EQ(q().Dequeue({4, {{"cap", 0}}, worker, 5, kHeartbeatTimeout}).size(), 4u);
  EXPECT_EQ(q().Dequeue({4, {{"cap", 0}}, worker, 5, kHeartbeatTimeout}).size(), 1u);
  EXPECT_EQ(q().Dequeue({4, {{"cap", 0}}, worker, 5, kHeartbeatTimeout}).size(), 0u);
  // Another worker is not affected by this one's budget.
  EXPECT_EQ(q().Dequeue({4, {{"cap", 0}}, Worker(), 5, kHeartbeatTimeout}).size(), 4u);
}

TEST_F(QueriesTest, StaleJobsArePickedOnlyAfterHeartbeatTimeout) {
  const auto id = q().Enqueue(MakeJob("stale", 0));
  const auto dead = Worker();
  ASSERT_EQ(q().Dequeue({1, {{"stale", 1}}, dead, std::nullopt, kHeartbeatTimeout}).size(), 1u);
  const auto rescuer = Worker();
  // Fresh heartbeat: not taken over.
  EXPECT_TRUE(q().Dequeue({1, {{"stale", 1}}, rescuer, std::nullopt, kHeartbeatTimeout}).empty());
  // The worker picked it and died 31 s ago (pick time and last heartbeat are
  // both that old); the takeover ignores the concurrency gate that its own
  // leaked row fills.
  admin().Execute("UPDATE " + settings().QueueTable() +
                  " SET heartbeat = NOW() - INTERVAL '31 seconds',"
                  " updated = NOW() - INTERVAL '31 seconds'"
                  " WHERE id = " + std::to_string(id));
  auto jobs = q().Dequeue({1, {{"stale", 1}}, rescuer, std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id);
  EXPECT_EQ(jobs[0].queue_manager_id, rescuer);
  EXPECT_EQ(LogRows("picked", id), 2);
}

TEST_F(QueriesTest, HeartbeatKeepsJobFromBeingTakenOver) {
  const auto id = q().Enqueue(MakeJob("hb"));
  q().Dequeue({1, {{"hb", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  admin().Execute("UPDATE " + settings().QueueTable() +
                  " SET heartbeat = NOW() - INTERVAL '31 seconds',"
                  " updated = NOW() - INTERVAL '31 seconds'"
                  " WHERE id = " + std::to_string(id));
  q().Heartbeat({id, id});
  EXPECT_TRUE(q().Dequeue({1, {{"hb", 0}}, Worker(), std::nullopt, kHeartbeatTimeout}).empty());
}

TEST_F(QueriesTest, StaleHighPriorityBeatsFreshLowPriority) {
  const auto low = q().Enqueue(MakeJob("mix", 0));
  const auto high = q().Enqueue(MakeJob("mix", 10));
  (void)low;
  q().Dequeue({1, {{"mix", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});  // takes `high`
  admin().Execute("UPDATE " + settings().QueueTable() +
                  " SET heartbeat = NOW() - INTERVAL '1 hour',"
                  " updated = NOW() - INTERVAL '1 hour'"
                  " WHERE id = " + std::to_string(high));
  auto jobs = q().Dequeue({1, {{"mix", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, high);
}

TEST_F(QueriesTest, CompleteDeletesOrHoldsAndLogsOnce) {
  auto ids = q().Enqueue({MakeJob("c"), MakeJob("c"), MakeJob("c")});
  q().Dequeue({3, {{"c", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  const std::string traceback =
      R"({"job_id": 1, "timestamp": "2025-01-01T00:00:00+00:00", "exception_type": "E", )"
      R"("exception_message": "m", "traceback": "t", "additional_context": null})";
  q().Complete({{*ids[0], JobStatus::kSuccessful, std::nullopt},
                {*ids[1], JobStatus::kException, traceback},
                {*ids[2], JobStatus::kFailed, traceback}});
  EXPECT_EQ(QueueRows(), 1);
  EXPECT_EQ(QueueRows("status = 'failed' AND queue_manager_id IS NULL AND payload IS NULL"), 1);
  EXPECT_EQ(LogRows("successful"), 1);
  EXPECT_EQ(LogRows("exception"), 1);
  EXPECT_EQ(LogRows("failed"), 1);
  EXPECT_EQ(Scalar("SELECT traceback->>'exception_type' FROM " + settings().LogTable() +
                   " WHERE status = 'exception'"),
            "E");
  // A completion for a row already gone writes nothing.
  q().Complete({{*ids[0], JobStatus::kSuccessful, std::nullopt}});
  EXPECT_EQ(LogRows("successful"), 1);
  // Held jobs are skipped by dequeue.
  EXPECT_TRUE(q().Dequeue({5, {{"c", 0}}, Worker(), std::nullopt, kHeartbeatTimeout}).empty());
}

TEST_F(QueriesTest, ListAndRequeueHeldJobs) {
  auto ids = q().Enqueue({MakeJob("h"), MakeJob("h")});
  q().Dequeue({2, {{"h", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  q().Retry(*ids[1], std::chrono::seconds(0), std::nullopt);  // attempts = 1, back to queued
  q().Dequeue({2, {{"h", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  q().Complete({{*ids[0], JobStatus::kFailed, std::nullopt}, {*ids[1], JobStatus::kFailed, std::nullopt}});
  auto failed = q().ListFailed(10);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(q().ListFailed(1).size(), 1u);
  const auto other = q().Enqueue(MakeJob("h"));  // queued, not failed: ignored
  EXPECT_EQ(q().Requeue({*ids[0], *ids[1], other}), 2);
  EXPECT_EQ(QueueRows("status = 'queued' AND attempts = 0 AND queue_manager_id IS NULL"), 3);
  EXPECT_EQ(LogRows("queued"), 2 + 1 + 1 + 2);  // enqueue 2, retry 1, other 1, requeue 2
  EXPECT_EQ(q().Dequeue({5, {{"h", 0}}, Worker(), std::nullopt, kHeartbeatTimeout}).size(), 3u);
}

TEST_F(QueriesTest, RetryKeepsIdPayloadAndCountsAttempts) {
  auto job = MakeJob("r", 7);
  job.payload = "keep";
  job.headers = R"({"a": 1})";
  const auto id = q().Enqueue(job);
  q().Dequeue({1, {{"r", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  EXPECT_TRUE(q().Retry(id, std::chrono::hours(1), R"({"reason": "later"})"));
  EXPECT_EQ(QueueRows("id = " + std::to_string(id) +
                      " AND status = 'queued' AND attempts = 1 AND priority = 7 AND payload = "
                      "'keep'::bytea AND headers = '{\"a\": 1}'::jsonb AND queue_manager_id IS "
                      "NULL AND execute_after > NOW() + INTERVAL '59 minutes'"),
            1);
  EXPECT_EQ(Scalar("SELECT traceback->>'reason' FROM " + settings().LogTable() +
                   " WHERE status = 'queued' AND traceback IS NOT NULL"),
            "later");
  EXPECT_TRUE(q().Dequeue({1, {{"r", 0}}, Worker(), std::nullopt, kHeartbeatTimeout}).empty());
  EXPECT_FALSE(q().Retry(999999999, std::chrono::seconds(0), std::nullopt));
}

TEST_F(QueriesTest, CancelDeletesLogsAndBroadcasts) {
  auto ids = q().Enqueue({MakeJob("x"), MakeJob("x")});
  q().Dequeue({1, {{"x", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  testing::NotificationLog log;
  ConnectionDriver listener(Options());
  auto subscription = listener.Listen(settings().channel, log.Callback());
  q().Cancel({*ids[0], *ids[1]});
  EXPECT_EQ(QueueRows(), 0);
  EXPECT_EQ(LogRows("canceled"), 2);
  ASSERT_TRUE(log.WaitFor([](const auto& received) {
    for (const auto& n : received) {
      if (n.payload.find("cancellation_event") != std::string::npos) return true;
    }
    return false;
  }));
  for (const auto& n : log.Snapshot()) {
    const auto event = nlohmann::json::parse(n.payload);
    if (event["type"] != "cancellation_event") continue;
    EXPECT_EQ(event["channel"], settings().channel);
    EXPECT_EQ(event["ids"], nlohmann::json::array({*ids[0], *ids[1]}));
  }
  // The worker's later completion is a no-op: still one canceled row each.
  q().Complete({{*ids[0], JobStatus::kCanceled, std::nullopt}});
  EXPECT_EQ(LogRows("canceled", *ids[0]), 1);
}

TEST_F(QueriesTest, QueueSizeAndJobStatus) {
  auto ids = q().Enqueue({MakeJob("s", 1), MakeJob("s", 1), MakeJob("t", 2)});
  q().Dequeue({1, {{"t", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  auto sizes = q().QueueSize();
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[0].entrypoint, "t");
  EXPECT_EQ(sizes[0].status, JobStatus::kPicked);
  EXPECT_EQ(sizes[1].entrypoint, "s");
  EXPECT_EQ(sizes[1].count, 2);
  q().Complete({{*ids[2], JobStatus::kSuccessful, std::nullopt}});
  auto statuses = q().JobStatuses({*ids[0], *ids[2]});
  EXPECT_THAT(statuses, UnorderedElementsAre(std::pair{*ids[0], JobStatus::kQueued},
                                             std::pair{*ids[2], JobStatus::kSuccessful}));
}

TEST_F(QueriesTest, AggregationUsesPgQueuerLockAndCountsEveryStatus) {
  auto ids = q().Enqueue({MakeJob("agg"), MakeJob("agg")});
  q().Dequeue({2, {{"agg", 0}}, Worker(), std::nullopt, kHeartbeatTimeout});
  q().Complete({{*ids[0], JobStatus::kSuccessful, std::nullopt},
                {*ids[1], JobStatus::kSuccessful, std::nullopt}});
  // Another process holds PgQueuer's aggregation lock: we back off.
  pqxx::connection holder(dsn_);
  pqxx::work tx(holder);
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('" + settings().StatisticsTable() + "'))");
  EXPECT_FALSE(q().AggregateLogs());
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().StatisticsTable()), 0);
  tx.abort();
  EXPECT_TRUE(q().AggregateLogs());
  EXPECT_EQ(Count("SELECT sum(count) FROM " + settings().StatisticsTable() +
                  " WHERE status = 'successful'"),
            2);
  EXPECT_EQ(Count("SELECT sum(count) FROM " + settings().StatisticsTable()), 6);
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().LogTable() + " WHERE NOT aggregated"), 0);
  auto rows = q().LogStatistics(100, std::chrono::seconds(3600));
  std::int64_t total = 0;
  for (const auto& r : rows) total += r.count;
  EXPECT_EQ(total, 6);
}

TEST_F(QueriesTest, QueueStatisticsSeeChangesAndAnalyzeResetsThem) {
  auto before = q().QueueStatistics();
  EXPECT_EQ(before.rows_at_analyze, -1);  // never analyzed
  EXPECT_TRUE(before.may_analyze);        // the test role owns the table
  ASSERT_TRUE(FillWithoutStatistics("stats", 1500));
  EXPECT_GE(q().QueueStatistics().changed_since_analyze, 1500);
  q().AnalyzeQueue();
  auto after = q().QueueStatistics();
  EXPECT_EQ(after.rows_at_analyze, 1500);
  EXPECT_EQ(after.changed_since_analyze, 0);
}

TEST_F(QueriesTest, FourWorkersFindingStaleStatisticsAnalyzeOnce) {
  ASSERT_TRUE(FillWithoutStatistics("stats", 1200));
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([this] {
      ConnectionDriver driver(Options());
      Queries(driver, settings()).AnalyzeQueue(1000);
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(QueueAnalyzeCount(), 1);
  EXPECT_EQ(q().QueueStatistics().rows_at_analyze, 1200);
  q().AnalyzeQueue(1000);  // nothing changed since: no second ANALYZE
  EXPECT_EQ(QueueAnalyzeCount(), 1);
}

TEST_F(QueriesTest, AnalyzeGivesUpOnATableLockedByAVacuum) {
  ASSERT_TRUE(FillWithoutStatistics("stats", 1200));
  // What an anti-wraparound autovacuum holds (it does not yield to ANALYZE).
  pqxx::connection holder(dsn_);
  pqxx::work tx(holder);
  tx.exec("LOCK TABLE " + settings().QueueTable() + " IN SHARE UPDATE EXCLUSIVE MODE");
  EXPECT_THROW(q().AnalyzeQueue(1000), DatabaseError);  // after lock_timeout, not never
  tx.abort();
  EXPECT_EQ(QueueAnalyzeCount(), 0);
  q().AnalyzeQueue(1000);  // the lock is gone: it runs
  EXPECT_EQ(QueueAnalyzeCount(), 1);
}

TEST_F(QueriesTest, ClearQueueByEntrypointLogsDeleted) {
  q().Enqueue({MakeJob("a"), MakeJob("b"), MakeJob("b")});
  q().ClearQueue({"b"});
  EXPECT_EQ(QueueRows(), 1);
  EXPECT_EQ(LogRows("deleted"), 2);
  q().ClearQueue();
  EXPECT_EQ(QueueRows(), 0);
  q().ClearLog({"a"});
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().LogTable() + " WHERE entrypoint = 'a'"), 0);
  q().ClearLog();
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().LogTable()), 0);
}

TEST_F(QueriesTest, SchedulesClaimOncePerDueTimeAndTakeOverStaleRuns) {
  const std::vector<ScheduleSlot> now{{"nightly", "0 3 * * *", std::chrono::microseconds(0)}};
  q().InsertSchedules(now);
  q().InsertSchedules(now);  // ON CONFLICT DO NOTHING
  EXPECT_EQ(q().PeekSchedules().size(), 1u);
  const std::vector<ScheduleSlot> delay{{"nightly", "0 3 * * *", std::chrono::hours(1)}};
  auto first = q().FetchSchedules(delay);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].status, JobStatus::kPicked);
  EXPECT_TRUE(q().FetchSchedules(delay).empty());  // claimed: nobody else runs it
  q().ScheduleHeartbeat({first[0].id});
  admin().Execute("UPDATE " + settings().SchedulesTable() +
                  " SET heartbeat = NOW() - INTERVAL '31 seconds'");
  EXPECT_EQ(q().FetchSchedules(delay).size(), 1u);  // stale run taken over
  q().SetSchedulesQueued({first[0].id});
  auto rows = q().PeekSchedules();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, JobStatus::kQueued);
  EXPECT_TRUE(rows[0].last_run.has_value());
  EXPECT_TRUE(q().FetchSchedules(delay).empty());  // next run is an hour away
  q().DeleteSchedules({}, {"nightly"});
  EXPECT_TRUE(q().PeekSchedules().empty());
}

TEST_F(QueriesTest, WorksThroughPoolDriverToo) {
  PoolSettings s;
  s.min_size = 1;
  s.max_size = 3;
  PoolDriver driver(ConnectionPool::Create(Options(), s));
  Queries queries(driver, settings());
  const auto id = queries.Enqueue(MakeJob("pool"));
  auto jobs = queries.Dequeue({5, {{"pool", 2}}, Worker(), std::nullopt, kHeartbeatTimeout});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id);
  queries.Complete({{id, JobStatus::kSuccessful, std::nullopt}});
  EXPECT_EQ(LogRows("successful"), 1);
}

}  // namespace
}  // namespace pgq
