// The consumer runtime against a real server: limits across queue managers,
// drain, shutdown, cancellation, retries, heartbeats, takeover, LISTEN
// recovery, schedules, completion tracking and the examples.

#include <gmock/gmock.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/connection>

#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/pgqueuer.h"
#include "pgq/pool.h"
#include "pgq/pqxx.h"
#include "runtime/records.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using detail::NewUuid;
using testing::PgTest;
using testing::RunCommand;
using namespace std::chrono_literals;
using testing::WaitUntil;

// Stops a running queue manager and joins its thread however the test ends.
struct RunGuard {
  QueueManager& qm;
  std::thread& thread;
  ~RunGuard() {
    qm.Stop();
    if (thread.joinable()) thread.join();
  }
};

// Tracks concurrent handler executions.
struct Overlap {
  std::atomic<int> active{0}, peak{0}, runs{0};
  void Enter() {
    const int now = ++active;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    ++runs;
  }
  void Leave() { --active; }
};

class RuntimeTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Install();
  }
  std::unique_ptr<ConnectionDriver> NewDriver() { return std::make_unique<ConnectionDriver>(Options()); }
  std::vector<JobId> EnqueueMany(const std::string& entrypoint, int n) {
    std::vector<NewJob> jobs(static_cast<std::size_t>(n));
    for (auto& job : jobs) job.entrypoint = entrypoint;
    std::vector<JobId> ids;
    for (const auto& id : ProducerQueries(admin(), settings()).Enqueue(jobs)) ids.push_back(*id);
    return ids;
  }
  std::int64_t LogRows(const std::string& status) {
    return Count("SELECT count(*) FROM " + settings().LogTable() + " WHERE status = '" + status + "'");
  }
  std::int64_t QueueRows(const std::string& where = "TRUE") {
    return Count("SELECT count(*) FROM " + settings().QueueTable() + " WHERE " + where);
  }
  static RunOptions Drain(std::size_t threads = 4) {
    RunOptions options;
    options.mode = RunMode::kDrain;
    options.handler_threads = threads;
    options.batch_size = 5;
    return options;
  }
};

TEST_F(RuntimeTest, SerialEntrypointNeverOverlapsAcrossTwoManagers) {
  EnqueueMany("serial", 30);
  Overlap overlap;
  auto handler = [&](JobContext&) {
    overlap.Enter();
    std::this_thread::sleep_for(2ms);  // simulated work, widens any overlap
    overlap.Leave();
  };
  auto d1 = NewDriver(), d2 = NewDriver();
  QueueManager a(*d1, settings()), b(*d2, settings());
  a.Entrypoint("serial", handler, {.concurrency_limit = 1});
  b.Entrypoint("serial", handler, {.concurrency_limit = 1});
  std::thread ta([&] { a.Run(Drain(4)); });
  std::thread tb([&] { b.Run(Drain(4)); });
  ta.join();
  tb.join();
  EXPECT_EQ(overlap.peak.load(), 1);
  EXPECT_EQ(overlap.runs.load(), 30);
  EXPECT_EQ(LogRows("successful"), 30);
  EXPECT_EQ(QueueRows(), 0);
}

TEST_F(RuntimeTest, ConcurrencyLimitHoldsFleetWide) {
  EnqueueMany("limited", 60);
  Overlap overlap;
  auto handler = [&](JobContext&) {
    overlap.Enter();
    std::this_thread::sleep_for(3ms);
    overlap.Leave();
  };
  auto d1 = NewDriver(), d2 = NewDriver();
  QueueManager a(*d1, settings()), b(*d2, settings());
  a.Entrypoint("limited", handler, {.concurrency_limit = 3});
  b.Entrypoint("limited", handler, {.concurrency_limit = 3});
  std::thread ta([&] { a.Run(Drain(4)); });
  std::thread tb([&] { b.Run(Drain(4)); });
  ta.join();
  tb.join();
  EXPECT_LE(overlap.peak.load(), 3);
  EXPECT_EQ(overlap.runs.load(), 60);
  EXPECT_EQ(LogRows("successful"), 60);
}

TEST_F(RuntimeTest, DrainModeExitsWhenQueueIsEmpty) {
  EnqueueMany("drain", 120);
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<int> runs{0};
  qm.Entrypoint("drain", [&](JobContext& ctx) {
    EXPECT_EQ(ctx.job.status, JobStatus::kPicked);
    ++runs;
  });
  qm.Run(Drain());
  EXPECT_EQ(runs.load(), 120);
  EXPECT_EQ(LogRows("successful"), 120);
  EXPECT_EQ(LogRows("picked"), 120);
  EXPECT_FALSE(qm.Health().running);
}

TEST_F(RuntimeTest, DrainEndsWhenPeersClaimTheLastJobs) {
  // A claim UPDATE sends no NOTIFY. A worker that saw the last queued rows
  // while a peer was claiming them must not then wait for a wake-up that never
  // comes: its drain ends once nothing is queued, not dequeue_timeout later.
  constexpr auto kDequeueTimeout = 60s;
  for (int round = 0; round < 8; ++round) {
    EnqueueMany("shared", 300);
    std::vector<std::unique_ptr<ConnectionDriver>> drivers;
    std::vector<std::unique_ptr<QueueManager>> managers;
    std::atomic<int> runs{0};
    for (int i = 0; i < 4; ++i) {
      drivers.push_back(NewDriver());
      managers.push_back(std::make_unique<QueueManager>(*drivers.back(), settings()));
      managers.back()->Entrypoint("shared", [&](JobContext&) { ++runs; });
    }
    auto options = Drain(2);
    options.dequeue_timeout = kDequeueTimeout;
    options.statistics_check_interval = 0ms;
    std::vector<std::chrono::steady_clock::duration> took(managers.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < managers.size(); ++i) {
      threads.emplace_back([&, i] {
        const auto t0 = std::chrono::steady_clock::now();
        managers[i]->Run(options);
        took[i] = std::chrono::steady_clock::now() - t0;
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(runs.load(), 300) << "round " << round;
    for (std::size_t i = 0; i < took.size(); ++i) {
      // Not a speed check: a worker that waited for a wake-up took kDequeueTimeout.
      ASSERT_LT(took[i], kDequeueTimeout / 2) << "round " << round << ", worker " << i;
    }
  }
  EXPECT_EQ(QueueRows(), 0);
}

TEST_F(RuntimeTest, BulkEnqueueIsAnalyzedBeforeTheFirstClaim) {
  // Without statistics the claim sorts the whole backlog; the worker refreshes
  // them before claiming. Autovacuum is off for this table, so only it can.
  ASSERT_TRUE(FillWithoutStatistics("bulk", 2500));
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::once_flag first;
  std::int64_t rows_seen_by_first_job = -2;
  qm.Entrypoint("bulk", [&](JobContext&) {
    std::call_once(first, [&] {
      rows_seen_by_first_job = Count("SELECT reltuples::bigint FROM pg_class WHERE oid = '" +
                                     settings().QueueTable() + "'::regclass");
    });
  });
  qm.Run(Drain());
  EXPECT_EQ(rows_seen_by_first_job, 2500);
  EXPECT_EQ(QueueAnalyzeCount(), 1);
}

TEST_F(RuntimeTest, StatisticsChecksCanBeTurnedOff) {
  ASSERT_TRUE(FillWithoutStatistics("bulk", 1200));
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  qm.Entrypoint("bulk", [](JobContext&) {});
  auto options = Drain();
  options.statistics_check_interval = 0ms;
  qm.Run(options);
  EXPECT_EQ(LogRows("successful"), 1200);
  EXPECT_EQ(qm.queries().QueueStatistics().rows_at_analyze, -1);
}

TEST_F(RuntimeTest, StopMidBatchLeavesNoPickedRows) {
  EnqueueMany("slow", 20);
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool release = false;
  qm.Entrypoint("slow", [&](JobContext&) {
    std::unique_lock lock(mu);
    ++started;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  RunOptions options;
  options.batch_size = 10;
  options.handler_threads = 2;
  std::thread runner([&] { qm.Run(options); });
  RunGuard guard{qm, runner};
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return started == 2; }));
  }
  // 12 claimed (2 threads + one batch of local capacity), 2 running.
  qm.Stop();
  {
    std::scoped_lock lock(mu);
    release = true;
  }
  cv.notify_all();
  runner.join();
  EXPECT_EQ(QueueRows("status = 'picked'"), 0);
  EXPECT_EQ(LogRows("successful"), started);
  EXPECT_EQ(QueueRows("status = 'queued' AND queue_manager_id IS NULL"), 20 - started);
}

TEST_F(RuntimeTest, CancellingARunningJobFlagsItsContext) {
  const auto id = EnqueueMany("cancel", 1).front();
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<bool> started{false}, saw_cancel{false};
  qm.Entrypoint("cancel", [&](JobContext& ctx) {
    started = true;
    saw_cancel = WaitUntil([&] { return ctx.Cancelled(); }, 20s);
  });
  std::thread runner([&] { qm.Run(); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
  Queries(admin(), settings()).Cancel({id});
  ASSERT_TRUE(WaitUntil([&] { return saw_cancel.load(); }));
  ASSERT_TRUE(WaitUntil([&] { return qm.Health().in_flight == 0; }));
  qm.Stop();
  runner.join();
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().LogTable() +
                  " WHERE job_id = $1 AND status = 'canceled'", {std::to_string(id)}),
            1);
  EXPECT_EQ(LogRows("successful"), 0);
}

TEST_F(RuntimeTest, JobCancelledWhileQueuedNeverRuns) {
  const auto ids = EnqueueMany("never", 2);
  Queries(admin(), settings()).Cancel({ids[0]});
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::vector<JobId> ran;
  std::mutex mu;
  qm.Entrypoint("never", [&](JobContext& ctx) {
    std::scoped_lock lock(mu);
    ran.push_back(ctx.job.id);
  });
  qm.Run(Drain());
  EXPECT_THAT(ran, ::testing::ElementsAre(ids[1]));
  EXPECT_EQ(LogRows("canceled"), 1);
}

TEST_F(RuntimeTest, BackoffRetriesThenRecordsException) {
  const auto id = EnqueueMany("flaky", 1).front();
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<int> calls{0};
  RetryPolicy policy;
  policy.max_attempts = 2;
  policy.initial_delay = 0s;
  qm.Entrypoint("flaky", [&](JobContext& ctx) {
    EXPECT_EQ(ctx.job.attempts, calls.load());
    ++calls;
    throw std::runtime_error("boom " + std::to_string(calls.load()));
  }, {.retry = policy});
  qm.Run(Drain());
  EXPECT_EQ(calls.load(), 3);  // first run + 2 retries
  EXPECT_EQ(LogRows("exception"), 1);
  EXPECT_EQ(QueueRows(), 0);
  auto rows = admin().Fetch("SELECT traceback::text AS t FROM " + settings().LogTable() +
                            " WHERE job_id = $1 AND status = 'queued' AND traceback IS NOT NULL "
                            "ORDER BY id",
                            {std::to_string(id)});
  ASSERT_EQ(rows.size(), 2u);
  const auto first = nlohmann::json::parse(rows.Text(0, "t"));
  EXPECT_EQ(first["job_id"], id);
  EXPECT_EQ(first["exception_type"], "std::runtime_error");
  EXPECT_EQ(first["exception_message"], "boom 1");
  EXPECT_EQ(first["additional_context"]["attempt"], 1);
  EXPECT_EQ(first["additional_context"]["retry_delay"], "0:00:00");
  EXPECT_EQ(first["additional_context"]["queue_manager_id"], qm.id());
  const auto final_tb = nlohmann::json::parse(
      Scalar("SELECT traceback::text FROM " + settings().LogTable() + " WHERE status = 'exception'"));
  for (const char* key : {"job_id", "timestamp", "exception_type", "exception_message", "traceback",
                          "additional_context"}) {
    EXPECT_TRUE(final_tb.contains(key)) << key;
  }
  EXPECT_EQ(final_tb["additional_context"]["entrypoint"], "flaky");
}

TEST_F(RuntimeTest, RetryRequestedKeepsTheJobWithItsDelay) {
  const auto id = EnqueueMany("later", 1).front();
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  qm.Entrypoint("later", [](JobContext&) { throw RetryRequested(1h, "not yet"); });
  std::thread runner([&] { qm.Run(); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return QueueRows("attempts = 1 AND status = 'queued'") == 1; }));
  qm.Stop();
  runner.join();
  EXPECT_EQ(QueueRows("id = " + std::to_string(id) +
                      " AND execute_after > NOW() + INTERVAL '59 minutes' AND queue_manager_id IS NULL"),
            1);
  const auto tb = nlohmann::json::parse(Scalar("SELECT traceback::text FROM " + settings().LogTable() +
                                               " WHERE status = 'queued' AND traceback IS NOT NULL"));
  EXPECT_EQ(tb["additional_context"]["retry_delay"], "1:00:00");
  EXPECT_EQ(tb["additional_context"]["reason"], "not yet");
}

TEST_F(RuntimeTest, HoldKeepsFailedJobs) {
  auto job = NewJob();
  job.entrypoint = "hold";
  job.payload = "keep me";
  ProducerQueries(admin(), settings()).Enqueue(job);
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  qm.Entrypoint("hold", [](JobContext&) { throw std::logic_error("bad input"); },
                {.on_failure = OnFailure::kHold});
  qm.Run(Drain());
  EXPECT_EQ(QueueRows("status = 'failed' AND payload = 'keep me'::bytea AND queue_manager_id IS NULL"), 1);
  EXPECT_EQ(LogRows("failed"), 1);
}

TEST_F(RuntimeTest, HeartbeatsKeepALongJobFromBeingTakenOver) {
  EnqueueMany("long", 1);
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<bool> started{false}, finish{false};
  qm.Entrypoint("long", [&](JobContext&) {
    started = true;
    WaitUntil([&] { return finish.load(); }, 30s);
  });
  RunOptions options;
  options.heartbeat_timeout = 1000ms;  // heartbeats every 250 ms
  std::thread runner([&] { qm.Run(options); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
  // For longer than two heartbeat timeouts, a rescuer with the same timeout
  // keeps trying to take the job over.
  Queries rescuer(admin(), settings());
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  int attempts = 0, taken = 0;
  while (std::chrono::steady_clock::now() < until) {
    taken += static_cast<int>(
        rescuer.Dequeue({1, {{"long", 0}}, NewUuid(), std::nullopt, 1000ms}).size());
    ++attempts;
    std::this_thread::sleep_for(50ms);
  }
  finish = true;
  qm.Stop();
  runner.join();
  EXPECT_GT(attempts, 10);
  EXPECT_EQ(taken, 0);
  EXPECT_EQ(LogRows("successful"), 1);
}

TEST_F(RuntimeTest, ARetriedJobClaimedAgainBeforeItsFirstRunEndedKeepsItsHeartbeat) {
  // The requeue is written before the first run leaves in_flight (so a drain
  // never sees the job neither queued nor running). The dispatcher may claim
  // it again meanwhile; the first run leaving must not take the second run's
  // place in in_flight with it, or the second would get no heartbeats and be
  // taken over as if its worker had died.
  const auto id = EnqueueMany("again", 1).front();
  std::atomic<int> calls{0};
  std::atomic<bool> second_started{false}, first_leaving{false}, finish{false};
  struct HoldFirstRun : Observer {
    std::atomic<bool>* second_started;
    std::atomic<bool>* first_leaving;
    void OnJobFinished(std::string_view, std::string_view outcome, std::chrono::duration<double>) override {
      if (outcome != "retried") return;
      WaitUntil([&] { return second_started->load(); });
      *first_leaving = true;
    }
  };
  auto observer = std::make_shared<HoldFirstRun>();
  observer->second_started = &second_started;
  observer->first_leaving = &first_leaving;
  auto driver = NewDriver();
  QueueManager qm(*driver, settings(), {}, nullptr, observer);
  qm.Entrypoint("again", [&](JobContext&) {
    if (++calls == 1) throw RetryRequested(0s);
    second_started = true;
    WaitUntil([&] { return finish.load(); }, 30s);
  });
  RunOptions options;
  options.handler_threads = 2;
  options.dequeue_timeout = 200ms;     // claims the requeued job without a wake-up
  options.heartbeat_timeout = 400ms;   // heartbeats every 100 ms
  std::thread runner([&] { qm.Run(options); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return first_leaving.load(); }));
  const std::string left_at = Scalar("SELECT clock_timestamp()::text");
  const bool beating = WaitUntil([&] {
    return Count("SELECT count(*) FROM " + settings().QueueTable() +
                 " WHERE id = $1 AND heartbeat > $2::timestamptz + interval '250 milliseconds'",
                 {std::to_string(id), left_at}) == 1;
  }, 10s);
  finish = true;
  qm.Stop();
  runner.join();
  EXPECT_TRUE(beating) << "the second run got no heartbeats after the first run left";
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(LogRows("successful"), 1);
}

TEST_F(RuntimeTest, JobOfADeadWorkerIsTakenOver) {
  const auto id = EnqueueMany("orphan", 1).front();
  Queries dead(admin(), settings());
  ASSERT_EQ(dead.Dequeue({1, {{"orphan", 1}}, NewUuid(), std::nullopt, 30s}).size(), 1u);
  admin().Execute("UPDATE " + settings().QueueTable() +
                  " SET heartbeat = NOW() - INTERVAL '5 minutes',"
                  " updated = NOW() - INTERVAL '5 minutes'"
                  " WHERE id = " + std::to_string(id));
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<int> runs{0};
  qm.Entrypoint("orphan", [&](JobContext&) { ++runs; }, {.concurrency_limit = 1});
  std::thread runner([&] { qm.Run(); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return LogRows("successful") == 1; }));
  qm.Stop();
  runner.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(LogRows("picked"), 2);
}

TEST_F(RuntimeTest, ListenerKilledListensAgainAndJobsKeepFlowing) {
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  std::atomic<int> runs{0};
  qm.Entrypoint("wake", [&](JobContext&) { ++runs; });
  RunOptions options;
  options.dequeue_timeout = 120s;  // only NOTIFY can wake the idle loop in time
  std::thread runner([&] { qm.Run(options); });
  RunGuard guard{qm, runner};
  ASSERT_TRUE(WaitUntil([&] { return driver->ListenerHealthy(); }));
  EnqueueMany("wake", 1);
  ASSERT_TRUE(WaitUntil([&] { return runs.load() == 1; }));
  // The single-connection driver LISTENs on the connection it queries on.
  const auto pid = driver->Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
  ASSERT_EQ(Scalar("SELECT pg_terminate_backend($1::int)", {pid}), "t");
  // Enqueue until one is picked up through the re-established LISTEN.
  ASSERT_TRUE(WaitUntil([&] {
    if (runs.load() >= 2) return true;
    EnqueueMany("wake", 1);
    return WaitUntil([&] { return runs.load() >= 2; }, 1s);
  }, 30s));
  EXPECT_TRUE(driver->ListenerHealthy());
  qm.Stop();
  runner.join();
}

TEST_F(RuntimeTest, DueScheduleRunsOnceAcrossThreeSchedulers) {
  Queries(admin(), settings())
      .InsertSchedules({{"yearly", "0 0 1 1 *", -std::chrono::microseconds(1s)}});  // due now
  std::atomic<int> runs{0};
  std::vector<std::unique_ptr<ConnectionDriver>> drivers;
  std::vector<std::unique_ptr<Scheduler>> schedulers;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    drivers.push_back(NewDriver());
    schedulers.push_back(std::make_unique<Scheduler>(*drivers.back(), settings()));
    schedulers.back()->Schedule("yearly", "0 0 1 1 *", [&](ScheduleContext& ctx) {
      EXPECT_EQ(ctx.schedule.entrypoint, "yearly");
      ++runs;
    });
  }
  for (auto& s : schedulers) threads.emplace_back([&s] { s->Run(); });
  ASSERT_TRUE(WaitUntil([&] {
    return runs.load() >= 1 && std::all_of(schedulers.begin(), schedulers.end(),
                                           [](const auto& s) { return s->polls() >= 3; });
  }));
  for (auto& s : schedulers) s->Stop();
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  auto rows = Queries(admin(), settings()).PeekSchedules();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, JobStatus::kQueued);
  EXPECT_TRUE(rows[0].last_run.has_value());
  EXPECT_GT(rows[0].next_run, Clock::now() + std::chrono::hours(24));
}

TEST_F(RuntimeTest, CompletionWatcherSeesTerminalStatus) {
  const auto id = EnqueueMany("watched", 1).front();
  auto watch_driver = NewDriver();
  CompletionWatcher watcher(*watch_driver, settings(), 5s);
  EXPECT_FALSE(watcher.WaitFor(id, 50ms).has_value());
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  qm.Entrypoint("watched", [](JobContext&) {});
  std::thread runner([&] { qm.Run(Drain()); });
  RunGuard guard{qm, runner};
  EXPECT_EQ(watcher.WaitFor(id, 20s), JobStatus::kSuccessful);
  runner.join();
}

TEST_F(RuntimeTest, FactoriesFromPoolAndConnectionShareResources) {
  EnqueueMany("factory", 10);
  PoolSettings pool_settings;
  pool_settings.min_size = 1;
  pool_settings.max_size = 3;
  auto resources = std::make_shared<Resources>();
  resources->Set("seen", std::make_shared<std::atomic<int>>(0));
  auto from_pool = PgQueuer::FromPool(ConnectionPool::Create(Options(), pool_settings),
                                      std::nullopt, resources, settings());
  EXPECT_EQ(from_pool->channel(), settings().channel);
  from_pool->Entrypoint("factory", [](JobContext& ctx) {
    ++**ctx.resources.Get<std::shared_ptr<std::atomic<int>>>("seen");
  });
  EXPECT_THROW(from_pool->Entrypoint("factory", [](JobContext&) {}), LogicError);
  from_pool->Run(Drain());
  EXPECT_EQ((*resources->Get<std::shared_ptr<std::atomic<int>>>("seen"))->load(), 10);

  EnqueueMany("factory", 3);
  pqxx::connection connection(dsn_);
  auto from_connection = PgQueuerFromConnection(connection, settings().channel, resources, settings());
  from_connection->Entrypoint("factory", [](JobContext& ctx) {
    ++**ctx.resources.Get<std::shared_ptr<std::atomic<int>>>("seen");
  });
  from_connection->Run(Drain());
  EXPECT_EQ((*resources->Get<std::shared_ptr<std::atomic<int>>>("seen"))->load(), 13);
}

TEST_F(RuntimeTest, RefusesToRunWithoutSchema) {
  auto bare = settings();
  bare.schema = settings().schema + "_none";
  auto driver = NewDriver();
  QueueManager qm(*driver, bare);
  qm.Entrypoint("x", [](JobContext&) {});
  try {
    qm.Run(Drain());
    FAIL() << "ran without a schema";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not ready"));
  }
}

TEST_F(RuntimeTest, RejectsCapBelowTwiceTheBatch) {
  auto driver = NewDriver();
  QueueManager qm(*driver, settings());
  qm.Entrypoint("x", [](JobContext&) {});
  RunOptions options;
  options.batch_size = 10;
  options.max_concurrent_tasks = 15;
  EXPECT_THROW(qm.Run(options), LogicError);
}

TEST_F(RuntimeTest, ExampleConsumersDrainTheQueue) {
  EnqueueMany("demo.hello", 5);
  const std::string env = "PGQUEUER_DSN='" + dsn_ + "' PGQUEUER_SCHEMA=" + settings().schema +
                          " PGQUEUER_CHANNEL=" + settings().channel + " ";
  auto connection = RunCommand(env + PGQ_CONSUMER_CONNECTION_EXAMPLE + " demo.hello");
  EXPECT_EQ(connection.exit_code, 0) << connection.output;
  EXPECT_THAT(connection.output, HasSubstr("processed 5 jobs"));
  EnqueueMany("demo.sync", 300);
  auto pool = RunCommand(env + PGQ_CONSUMER_POOL_EXAMPLE + " demo.sync " + settings().channel);
  EXPECT_EQ(pool.exit_code, 0) << pool.output;
  EXPECT_THAT(pool.output, HasSubstr("processed 300 jobs"));
  EXPECT_EQ(QueueRows(), 0);
}

}  // namespace
}  // namespace pgq
