// BatchingProducer against a real server: coalescing, per-job errors,
// back-pressure and shutdown.

#include <gmock/gmock.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "pg_fixture.h"
#include "pgq/batching_producer.h"
#include "pgq/error.h"
#include "pgq/pool.h"
#include "pgq/queries.h"

namespace pgq {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::PgTest;

// Records the producer's events (thread-safe).
class ProducerObserver final : public Observer {
 public:
  struct Statement {
    std::size_t jobs;
    bool ok;
  };
  void OnProducerFlush(std::size_t jobs, std::chrono::duration<double>, bool ok) override {
    std::scoped_lock lock(mu_);
    statements_.push_back({jobs, ok});
  }
  void OnProducerPending(std::size_t pending) override {
    std::scoped_lock lock(mu_);
    pending_.push_back(pending);
  }
  std::vector<Statement> statements() {
    std::scoped_lock lock(mu_);
    return statements_;
  }
  std::vector<std::size_t> pending() {
    std::scoped_lock lock(mu_);
    return pending_;
  }

 private:
  std::mutex mu_;
  std::vector<Statement> statements_;
  std::vector<std::size_t> pending_;
};

// A delay no test waits for.
constexpr std::chrono::microseconds kNever = std::chrono::hours(1);

// Flushes happen only when a batch is full, on Flush() or on Close(), so
// statement counts are exact.
BatchingProducerSettings OnlyFullOrAsked() {
  BatchingProducerSettings s;
  s.max_delay = kNever;
  s.flush_when_idle = false;
  return s;
}

class ProducerTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    Install();
    PoolSettings pool;
    pool.min_size = 1;
    pool.max_size = 4;
    pool_ = ConnectionPool::Create(Options(), pool);
  }
  std::unique_ptr<BatchingProducer> Make(BatchingProducerSettings s) {
    return std::make_unique<BatchingProducer>(pool_, settings(), s, observer_);
  }
  static NewJob Job(std::string payload, std::optional<std::string> key = std::nullopt) {
    NewJob job;
    job.entrypoint = "produce";
    job.payload = std::move(payload);
    job.dedupe_key = std::move(key);
    return job;
  }
  std::int64_t Queued() { return Count("SELECT count(*) FROM " + settings().QueueTable()); }
  // The dedupe keys a future's DuplicateJobError names (empty when it holds an id).
  static std::vector<std::string> DuplicateKeys(std::future<JobId>& f) {
    try {
      f.get();
    } catch (const DuplicateJobError& e) {
      return e.dedupe_keys();
    }
    return {};
  }

  std::shared_ptr<ConnectionPool> pool_;
  std::shared_ptr<ProducerObserver> observer_ = std::make_shared<ProducerObserver>();
};

TEST_F(ProducerTest, ManyThreadsShareFewStatements) {
  constexpr int kThreads = 64;
  constexpr int kRounds = 10;
  BatchingProducerSettings s = OnlyFullOrAsked();
  s.max_batch = kThreads;  // a flush starts when every thread has one job pending
  auto producer = Make(s);
  std::mutex mu;
  std::set<JobId> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const JobId id = producer->Enqueue(Job(std::to_string(t) + "/" + std::to_string(r))).get();
        std::scoped_lock lock(mu);
        ids.insert(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kRounds));
  EXPECT_EQ(Queued(), kThreads * kRounds);
  const auto statements = observer_->statements();
  ASSERT_EQ(statements.size(), static_cast<std::size_t>(kRounds));
  for (const auto& st : statements) {
    EXPECT_EQ(st.jobs, static_cast<std::size_t>(kThreads));
    EXPECT_TRUE(st.ok);
  }
}

TEST_F(ProducerTest, MaxDelayFlushesAPartialBatch) {
  BatchingProducerSettings s;
  s.max_batch = 1000;
  s.max_delay = 5ms;
  s.flush_when_idle = false;
  auto producer = Make(s);
  auto future = producer->Enqueue(Job("alone"));
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  EXPECT_GT(future.get(), 0);
  EXPECT_EQ(Queued(), 1);
}

TEST_F(ProducerTest, OneCallTravelsInOneStatementInOrder) {
  BatchingProducerSettings s = OnlyFullOrAsked();
  s.max_batch = 3;  // smaller than the call: it is sent alone, not split
  auto producer = Make(s);
  std::vector<NewJob> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back(Job("j" + std::to_string(i)));
  auto futures = producer->Enqueue(std::move(jobs));
  std::vector<JobId> ids;
  for (auto& f : futures) ids.push_back(f.get());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  ASSERT_EQ(observer_->statements().size(), 1u);
  EXPECT_EQ(observer_->statements()[0].jobs, 5u);
}

TEST_F(ProducerTest, AnIdleProducerSendsAJobAtOnce) {
  BatchingProducerSettings s;  // flush_when_idle by default
  s.max_delay = kNever;
  auto producer = Make(s);
  for (int i = 0; i < 3; ++i) {  // one at a time: each finds no flush being written
    auto future = producer->Enqueue(Job("alone" + std::to_string(i)));
    ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
    EXPECT_GT(future.get(), 0);
  }
  const auto statements = observer_->statements();
  ASSERT_EQ(statements.size(), 3u);
  for (const auto& st : statements) {
    EXPECT_EQ(st.jobs, 1u);
    EXPECT_TRUE(st.ok);
  }
}

TEST_F(ProducerTest, JobsArrivingDuringAFlushGatherForTheNextOne) {
  BatchingProducerSettings s;
  s.max_delay = kNever;
  s.flushers = 2;  // an idle flusher does not take them: they wait for the flush in progress
  auto producer = Make(s);
  // Holds the first flush inside its INSERT until the transaction ends.
  pqxx::connection holder(dsn_);
  pqxx::work tx(holder);
  tx.exec("LOCK TABLE " + settings().QueueTable() + " IN SHARE MODE");
  auto first = producer->Enqueue(Job("first"));
  while (producer->Pending() != 0) std::this_thread::yield();  // taken: its flush is running
  std::vector<std::future<JobId>> later;
  for (int i = 0; i < 3; ++i) later.push_back(producer->Enqueue(Job("later" + std::to_string(i))));
  EXPECT_EQ(producer->Pending(), 3u);
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);
  tx.abort();
  EXPECT_GT(first.get(), 0);
  for (auto& f : later) EXPECT_GT(f.get(), 0);
  const auto statements = observer_->statements();
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0].jobs, 1u);
  EXPECT_EQ(statements[1].jobs, 3u);
}

// Sends [a, held, b, rep, rep] where a live job holds "held".
class ConflictTest : public ProducerTest {
 protected:
  std::vector<std::future<JobId>> SendWithConflicts(OnConflict mode) {
    ProducerQueries(admin(), settings()).Enqueue(Job("earlier", "held"));
    BatchingProducerSettings s = OnlyFullOrAsked();
    s.on_conflict = mode;
    producer_ = Make(s);
    std::vector<NewJob> jobs{Job("a"), Job("second", "held"), Job("b"), Job("rep1", "rep"),
                             Job("rep2", "rep")};
    auto futures = producer_->Enqueue(std::move(jobs));
    producer_->Flush();
    return futures;
  }
  void ExpectOnlyConflictsFailed(std::vector<std::future<JobId>>& f) {
    EXPECT_GT(f[0].get(), 0);
    EXPECT_THAT(DuplicateKeys(f[1]), ElementsAre("held"));
    EXPECT_GT(f[2].get(), 0);
    EXPECT_GT(f[3].get(), 0);  // the first job with a repeated key keeps it
    EXPECT_THAT(DuplicateKeys(f[4]), ElementsAre("rep"));
    EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable() +
                    " WHERE payload IN ('a', 'b', 'rep1')"),
              3);
    EXPECT_EQ(Queued(), 4);  // with the earlier job
  }
  std::unique_ptr<BatchingProducer> producer_;
};

TEST_F(ConflictTest, SkipFailsOnlyTheConflictingJobsInOneStatement) {
  auto futures = SendWithConflicts(OnConflict::kSkip);
  ExpectOnlyConflictsFailed(futures);
  const auto statements = observer_->statements();
  ASSERT_EQ(statements.size(), 1u);
  EXPECT_EQ(statements[0].jobs, 4u);  // the in-flush repeat never left the producer
  EXPECT_TRUE(statements[0].ok);
}

TEST_F(ConflictTest, RaiseSendsTheFlushAgainWithoutTheConflictingJob) {
  auto futures = SendWithConflicts(OnConflict::kRaise);
  ExpectOnlyConflictsFailed(futures);
  const auto statements = observer_->statements();
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0].jobs, 4u);
  EXPECT_FALSE(statements[0].ok);  // rejected as a whole: nothing of it was written
  EXPECT_EQ(statements[1].jobs, 3u);
  EXPECT_TRUE(statements[1].ok);
}

TEST_F(ProducerTest, AStatementErrorFailsEveryJobOfTheFlush) {
  auto producer = Make(OnlyFullOrAsked());
  admin().Execute("DROP TABLE " + settings().QueueTable() + " CASCADE");
  auto futures = producer->Enqueue({Job("x"), Job("y")});
  auto third = producer->Enqueue(Job("z"));
  producer->Flush();
  futures.push_back(std::move(third));
  for (auto& f : futures) {
    try {
      f.get();
      ADD_FAILURE() << "a job of a failed statement got an id";
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.sqlstate(), "42P01");  // undefined_table
    }
  }
  ASSERT_EQ(observer_->statements().size(), 1u);
  EXPECT_FALSE(observer_->statements()[0].ok);
}

TEST_F(ProducerTest, InvalidJobsAreRefusedInTheCallersThread) {
  auto producer = Make({});
  NewJob no_entrypoint;
  EXPECT_THROW(producer->Enqueue(no_entrypoint), LogicError);
  NewJob bad_headers = Job("h");
  bad_headers.headers = "[1, 2]";
  EXPECT_THROW(producer->Enqueue({Job("fine"), bad_headers}), LogicError);
  EXPECT_EQ(producer->Pending(), 0u);
}

TEST_F(ProducerTest, FullProducerRefusesAtOnceOrAfterTheTimeout) {
  BatchingProducerSettings s = OnlyFullOrAsked();
  s.max_pending = 4;
  s.enqueue_timeout = 0ms;
  auto producer = Make(s);
  std::vector<std::future<JobId>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(producer->Enqueue(Job(std::to_string(i))));
  EXPECT_THROW(producer->Enqueue(Job("fifth")), ProducerFullError);
  EXPECT_THROW(producer->Enqueue({Job("a"), Job("b")}), ProducerFullError);
  EXPECT_EQ(producer->Pending(), 4u);

  s.enqueue_timeout = 50ms;
  auto waiting = Make(s);
  for (int i = 0; i < 4; ++i) futures.push_back(waiting->Enqueue(Job(std::to_string(i))));
  EXPECT_THROW(waiting->Enqueue(Job("fifth")), ProducerFullError);
  EXPECT_EQ(waiting->Pending(), 4u);
}

TEST_F(ProducerTest, FullProducerBlocksUntilAFlushMakesRoom) {
  BatchingProducerSettings s = OnlyFullOrAsked();
  s.max_pending = 4;
  s.enqueue_timeout = 60s;
  s.flushers = 1;
  auto producer = Make(s);
  std::vector<std::future<JobId>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(producer->Enqueue(Job(std::to_string(i))));
  auto fifth = std::async(std::launch::async, [&] { return producer->Enqueue(Job("fifth")); });
  producer->Flush();
  futures.push_back(fifth.get());  // returned once the flush took the first four
  producer->Flush();
  for (auto& f : futures) EXPECT_GT(f.get(), 0);
  // Pending never went above max_pending; the fifth job entered after the drop.
  EXPECT_THAT(observer_->pending(), ElementsAre(1u, 2u, 3u, 4u, 0u, 1u, 0u));
  EXPECT_EQ(Queued(), 5);
}

TEST_F(ProducerTest, CloseWritesEveryPendingJobThenRefusesNewOnes) {
  BatchingProducerSettings s = OnlyFullOrAsked();
  s.max_batch = 4;
  auto producer = Make(s);
  std::vector<std::future<JobId>> futures;
  for (int i = 0; i < 3; ++i) futures.push_back(producer->Enqueue(Job(std::to_string(i))));
  auto batch = producer->Enqueue({Job("b1"), Job("b2"), Job("b3")});
  for (auto& f : batch) futures.push_back(std::move(f));
  producer->Close();
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready);  // settled before Close returned
    EXPECT_GT(f.get(), 0);
  }
  EXPECT_EQ(Queued(), 6);
  EXPECT_THROW(producer->Enqueue(Job("late")), ProducerClosedError);
  producer->Close();  // idempotent
}

TEST_F(ProducerTest, CloseWithFailFailsPendingJobsAndWritesNothing) {
  auto producer = Make(OnlyFullOrAsked());
  auto futures = producer->Enqueue({Job("a"), Job("b")});
  producer->Close(ProducerShutdown::kFail);
  for (auto& f : futures) EXPECT_THROW(f.get(), ProducerClosedError);
  EXPECT_EQ(Queued(), 0);
  EXPECT_TRUE(observer_->statements().empty());
}

TEST_F(ProducerTest, DestructorFlushesPendingJobs) {
  BatchingProducerSettings s = OnlyFullOrAsked();
  std::future<JobId> future;
  {
    auto producer = Make(s);
    future = producer->Enqueue(Job("last"));
  }
  EXPECT_GT(future.get(), 0);
  EXPECT_EQ(Queued(), 1);
}

}  // namespace
}  // namespace pgq
