// The claim loop's wake-ups after a fault, on the in-memory store: a
// reconnect or a health check that never came back must start a claim at
// once (dequeue_timeout is 60 s here, so only the wake-up can pass these),
// and listener health must follow a reconnect without waiting for the next
// scheduled check.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "pgq/runtime.h"
#include "runtime/queue_manager_access.h"
#include "support/memory_store.h"
#include "support/test_util.h"

namespace pgq::testing_util {
namespace {

using namespace std::chrono_literals;

class ListenerUpObserver final : public Observer {
 public:
  void OnListenerUp(bool up) override {
    up_ = up;
    ++reports_;
  }
  std::atomic<bool> up_{false};
  std::atomic<int> reports_{0};
};

class WakeupTest : public ::testing::Test {
 protected:
  WakeupTest() {
    auto owned = std::make_unique<MemoryStore>();
    store_ = owned.get();
    manager_ = detail::QueueManagerAccess::WithStore(std::move(owned), DBSettings::WithPrefix(),
                                                     "", nullptr, observer_);
    manager_->Entrypoint("work", [this](JobContext&) { ++runs_; });
  }
  ~WakeupTest() override {
    manager_->Stop();
    if (run_.valid()) run_.get();
  }

  // Starts an idle worker: its first round found nothing, so it now sleeps
  // for dequeue_timeout unless something wakes it.
  void StartIdle(RunOptions options) {
    options.dequeue_timeout = 60s;
    run_ = std::async(std::launch::async, [this, options] { manager_->Run(options); });
    ASSERT_TRUE(Eventually([&] { return store_->probes() >= 1 && observer_->reports_ >= 1; }));
  }

  bool Done(JobId id) { return store_->LastLogged(id) == JobStatus::kSuccessful; }

  std::shared_ptr<ListenerUpObserver> observer_ = std::make_shared<ListenerUpObserver>();
  MemoryStore* store_ = nullptr;
  std::unique_ptr<QueueManager> manager_;
  std::atomic<int> runs_{0};
  std::future<void> run_;
};

TEST_F(WakeupTest, AReconnectWakesTheClaimLoopForWorkNotifiedWhileAway) {
  StartIdle({});
  store_->SetListenerDown(true);
  const JobId id = store_->Enqueue("work");  // its NOTIFY is lost
  store_->SetListenerDown(false);
  EXPECT_TRUE(Eventually([&] { return Done(id); }, 5s));
  EXPECT_TRUE(Eventually([&] { return manager_->Health().listener_reconnects == 1; }, 5s));
}

TEST_F(WakeupTest, AHealthCheckThatNeverCameBackWakesTheClaimLoop) {
  RunOptions options;
  options.health_check_interval = 100ms;
  options.health_check_timeout = 100ms;
  StartIdle(options);
  store_->LoseNotifications(true);
  const JobId id = store_->Enqueue("work");
  EXPECT_TRUE(Eventually([&] { return Done(id); }, 5s));
  EXPECT_TRUE(Eventually([&] { return !manager_->Health().listener_up; }, 5s));
  EXPECT_THAT(manager_->Health().listener_problem, ::testing::HasSubstr("not received back"));
  store_->LoseNotifications(false);
  EXPECT_TRUE(Eventually([&] { return manager_->Health().listener_up && observer_->up_; }, 5s));
}

TEST_F(WakeupTest, ListenerHealthFollowsALossAndAReconnectWithinASecond) {
  RunOptions options;
  options.health_check_interval = 60s;  // the scheduled check cannot help
  StartIdle(options);
  ASSERT_TRUE(manager_->Health().listener_up);
  ASSERT_TRUE(observer_->up_);
  store_->SetListenerDown(true);
  EXPECT_FALSE(manager_->Health().listener_up);  // read from the driver at once
  EXPECT_TRUE(Eventually([&] { return !observer_->up_; }, 1s));
  store_->SetListenerDown(false);
  EXPECT_TRUE(Eventually([&] { return manager_->Health().listener_up && observer_->up_; }, 1s));
}

TEST_F(WakeupTest, HealthCheckTimingMustBePositive) {
  RunOptions options;
  options.health_check_timeout = 0ms;
  EXPECT_THAT(LogicErrorMessage([&] { manager_->Run(options); }),
              ::testing::HasSubstr("health_check_timeout"));
}

}  // namespace
}  // namespace pgq::testing_util
