// QueueManager on the in-memory store: the claim loop, handler threads,
// completions, retries, drain and shutdown, without PostgreSQL. Every
// check awaits a condition (Eventually) instead of sleeping first.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "pgq/runtime.h"
#include "runtime/queue_manager_access.h"
#include "support/memory_store.h"
#include "support/test_util.h"

namespace pgq::testing_util {
namespace {

using namespace std::chrono_literals;

class MemoryRuntimeTest : public ::testing::Test {
 protected:
  MemoryRuntimeTest() {
    auto owned = std::make_unique<MemoryStore>();
    store_ = owned.get();
    manager_ = detail::QueueManagerAccess::WithStore(std::move(owned), DBSettings::WithPrefix());
  }

  static RunOptions Drain() {
    RunOptions options;
    options.mode = RunMode::kDrain;
    options.batch_size = 5;
    options.dequeue_timeout = 10s;
    return options;
  }

  // Runs the manager on its own thread.
  std::future<void> Start(RunOptions options) {
    return std::async(std::launch::async, [this, options] { manager_->Run(options); });
  }

  static bool Finishes(std::future<void>& run, std::chrono::seconds within = 10s) {
    if (run.wait_for(within) != std::future_status::ready) return false;
    run.get();
    return true;
  }

  MemoryStore* store_ = nullptr;
  std::unique_ptr<QueueManager> manager_;
};

TEST_F(MemoryRuntimeTest, DrainsNJobs) {
  std::atomic<int> runs{0};
  manager_->Entrypoint("work", [&](JobContext&) { ++runs; });
  std::vector<JobId> ids;
  for (int i = 0; i < 23; ++i) ids.push_back(store_->Enqueue("work"));
  auto run = Start(Drain());
  ASSERT_TRUE(Finishes(run));
  EXPECT_EQ(runs.load(), 23);
  for (JobId id : ids) {
    EXPECT_EQ(store_->Find(id), std::nullopt) << id;
    EXPECT_EQ(store_->LastLogged(id), JobStatus::kSuccessful) << id;
  }
}

TEST_F(MemoryRuntimeTest, RetryThenSuccess) {
  std::atomic<int> runs{0};
  std::atomic<int> last_attempts{-1};
  EntrypointOptions options;
  options.retry = RetryPolicy{.max_attempts = 3, .initial_delay = 0us, .max_delay = 0us};
  manager_->Entrypoint(
      "flaky",
      [&](JobContext& ctx) {
        last_attempts = ctx.job.attempts;
        if (runs++ == 0) throw std::runtime_error("first time fails");
      },
      options);
  const JobId id = store_->Enqueue("flaky");
  auto run = Start(Drain());
  ASSERT_TRUE(Finishes(run));
  EXPECT_EQ(runs.load(), 2);
  EXPECT_EQ(last_attempts.load(), 1);
  EXPECT_EQ(store_->Find(id), std::nullopt);
  EXPECT_EQ(store_->LastLogged(id), JobStatus::kSuccessful);
  const auto retry = nlohmann::json::parse(store_->LastTraceback(id));
  EXPECT_EQ(retry["exception_message"], "first time fails");
  EXPECT_EQ(retry["additional_context"]["attempt"], 1);
  EXPECT_EQ(retry["additional_context"]["retry_delay"], "0:00:00");
}

TEST_F(MemoryRuntimeTest, HoldOnFinalFailure) {
  std::atomic<int> runs{0};
  EntrypointOptions options;
  options.retry = RetryPolicy{.max_attempts = 1, .initial_delay = 0us, .max_delay = 0us};
  options.on_failure = OnFailure::kHold;
  manager_->Entrypoint(
      "broken",
      [&](JobContext&) {
        ++runs;
        throw std::runtime_error("always");
      },
      options);
  const JobId id = store_->Enqueue("broken");
  auto run = Start(Drain());
  ASSERT_TRUE(Finishes(run));
  EXPECT_EQ(runs.load(), 2);
  const auto held = store_->Find(id);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->status, JobStatus::kFailed);
  EXPECT_EQ(held->attempts, 1);
  EXPECT_EQ(store_->LastLogged(id), JobStatus::kFailed);
  const auto record = nlohmann::json::parse(store_->LastTraceback(id));
  EXPECT_EQ(record["exception_type"], "std::runtime_error");
  EXPECT_EQ(record["exception_message"], "always");
}

TEST_F(MemoryRuntimeTest, DrainModeEndsOnAnEmptyQueue) {
  manager_->Entrypoint("work", [](JobContext&) {});
  RunOptions options = Drain();
  options.dequeue_timeout = 60s;  // ending must not wait for it
  auto run = Start(options);
  ASSERT_TRUE(Finishes(run, 10s));
  EXPECT_GE(store_->probes(), 1);
  EXPECT_FALSE(manager_->Health().running);
}

TEST_F(MemoryRuntimeTest, StopReleasesClaimedButUnstartedJobs) {
  std::atomic<int> started{0};
  std::atomic<bool> let_go{false};
  manager_->Entrypoint("slow", [&](JobContext& ctx) {
    ++started;
    while (!let_go && !ctx.Cancelled()) std::this_thread::yield();
  });
  for (int i = 0; i < 4; ++i) store_->Enqueue("slow");
  RunOptions options;
  options.batch_size = 4;
  options.handler_threads = 1;  // one runs, three wait in the local queue
  options.shutdown_grace = 10s;
  auto run = Start(options);
  ASSERT_TRUE(Eventually(
      [&] { return started == 1 && store_->CountWithStatus(JobStatus::kPicked) == 4; }));
  manager_->Stop();
  ASSERT_TRUE(Eventually([&] { return store_->released() == 3; }));
  EXPECT_EQ(store_->CountWithStatus(JobStatus::kQueued), 3);
  let_go = true;
  ASSERT_TRUE(Finishes(run));
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(store_->CountWithStatus(JobStatus::kQueued), 3);
  EXPECT_EQ(store_->CountWithStatus(JobStatus::kPicked), 0);
}

TEST_F(MemoryRuntimeTest, AnInsertEventWakesTheIdleDispatcher) {
  std::atomic<int> runs{0};
  manager_->Entrypoint("work", [&](JobContext&) { ++runs; });
  RunOptions options;
  options.dequeue_timeout = 60s;  // only the event can wake it in time
  auto run = Start(options);
  // The first round found nothing: the dispatcher now sleeps up to 60 s.
  ASSERT_TRUE(Eventually([&] { return store_->probes() >= 1; }));
  const JobId id = store_->Enqueue("work");
  ASSERT_TRUE(Eventually([&] { return store_->LastLogged(id) == JobStatus::kSuccessful; }));
  EXPECT_EQ(runs.load(), 1);
  manager_->Stop();
  ASSERT_TRUE(Finishes(run));
}

// While its own completions cannot be written (a read-only server behind its
// address), a worker claims nothing: a claimed job could neither be kept
// alive nor recorded, and a peer would rescue and run it again. The first
// write that works again wakes the claim loop.
TEST_F(MemoryRuntimeTest, ClaimsNothingWhileItsOwnWritesFail) {
  std::atomic<int> runs{0};
  manager_->Entrypoint("work", [&](JobContext&) { ++runs; });
  store_->SetWritesFailing(true);
  const JobId first = store_->Enqueue("work");
  RunOptions options;
  options.batch_size = 1;
  options.dequeue_timeout = 50ms;  // would claim again every 50 ms if it could
  auto run = Start(options);
  // From the second failed attempt on, the first one has raised the flag.
  ASSERT_TRUE(Eventually([&] { return runs == 1 && store_->failed_writes() >= 2; }));
  const auto dequeues = store_->dequeues();
  const JobId second = store_->Enqueue("work");  // its NOTIFY wakes the dispatcher
  // Two more failed attempts (backoff 400 ms, then 800 ms, jittered).
  const auto failed = store_->failed_writes();
  ASSERT_TRUE(Eventually([&] { return store_->failed_writes() >= failed + 2; }));
  EXPECT_EQ(store_->dequeues(), dequeues);
  EXPECT_EQ(store_->Find(second)->status, JobStatus::kQueued);
  EXPECT_EQ(runs.load(), 1);

  store_->SetWritesFailing(false);
  ASSERT_TRUE(Eventually([&] { return store_->LastLogged(second) == JobStatus::kSuccessful; }));
  EXPECT_EQ(store_->LastLogged(first), JobStatus::kSuccessful);
  EXPECT_EQ(runs.load(), 2);
  manager_->Stop();
  ASSERT_TRUE(Finishes(run));
}

TEST_F(MemoryRuntimeTest, QueriesRefuseSqlOnTheMemoryStore) {
  EXPECT_THAT(LogicErrorMessage([&] { manager_->queries().QueueSize(); }),
              ::testing::HasSubstr("in-memory"));
}

TEST_F(MemoryRuntimeTest, PrunesEveryIntervalOnlyWhenRetentionIsOn) {
  manager_->Entrypoint("work", [](JobContext&) {});
  RunOptions options;
  options.dequeue_timeout = 50ms;
  options.prune_interval = 20ms;
  // Off (no age set): the interval alone starts nothing.
  auto off = Start(options);
  ASSERT_TRUE(Eventually([&] { return store_->probes() >= 3; }));
  manager_->Stop();
  ASSERT_TRUE(Finishes(off));
  EXPECT_EQ(store_->prune_runs(), 0);

  options.retention.log_older_than = 7 * 24h;
  auto on = Start(options);
  ASSERT_TRUE(Eventually([&] { return store_->prune_runs() >= 3; }));
  manager_->Stop();
  ASSERT_TRUE(Finishes(on));
}

}  // namespace
}  // namespace pgq::testing_util
