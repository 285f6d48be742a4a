// The job log line and its rate limit: a token bucket driven by a given
// clock, and the count of lines it drops.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "runtime/job_event_log.h"

namespace pgq::detail {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenBucketTest, AllowsABurstThenRefillsAtTheRate) {
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  TokenBucket bucket(/*per_second=*/2, /*burst=*/3, t0);
  EXPECT_TRUE(bucket.Take(t0));
  EXPECT_TRUE(bucket.Take(t0));
  EXPECT_TRUE(bucket.Take(t0));
  EXPECT_FALSE(bucket.Take(t0));
  EXPECT_FALSE(bucket.Take(t0 + 400ms));  // 0.8 of a token
  EXPECT_TRUE(bucket.Take(t0 + 500ms));
  EXPECT_FALSE(bucket.Take(t0 + 500ms));
  // A long quiet spell refills no more than the burst.
  EXPECT_TRUE(bucket.Take(t0 + 1h));
  EXPECT_TRUE(bucket.Take(t0 + 1h));
  EXPECT_TRUE(bucket.Take(t0 + 1h));
  EXPECT_FALSE(bucket.Take(t0 + 1h));
}

TEST(TokenBucketTest, ATimeGoingBackwardsAddsNothing) {
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  TokenBucket bucket(1, 1, t0);
  EXPECT_TRUE(bucket.Take(t0));
  EXPECT_FALSE(bucket.Take(t0 - 10s));
  EXPECT_FALSE(bucket.Take(t0 + 500ms));
  EXPECT_TRUE(bucket.Take(t0 + 1s));
}

class CountingObserver final : public Observer {
 public:
  void OnJobLogSuppressed() override { ++suppressed; }
  std::atomic<int> suppressed{0};
};

Job FailedJob() {
  Job job;
  job.id = 42;
  job.entrypoint = "send_mail";
  job.attempts = 2;
  job.payload = std::string("secret-payload-text");
  return job;
}

TEST(JobEventLogTest, TheLineNamesTheJobButNeverItsPayload) {
  const Job job = FailedJob();
  const std::string line = JobEventLog::Format(
      {job, "exception", "std::runtime_error", "smtp said \"no\"", std::chrono::milliseconds(1500)});
  EXPECT_THAT(line, HasSubstr("entrypoint=\"send_mail\""));
  EXPECT_THAT(line, HasSubstr("job_id=42"));
  EXPECT_THAT(line, HasSubstr("attempt=3"));
  EXPECT_THAT(line, HasSubstr("outcome=exception"));
  EXPECT_THAT(line, HasSubstr("exception_type=\"std::runtime_error\""));
  EXPECT_THAT(line, HasSubstr(R"(exception_message="smtp said \"no\"")"));
  EXPECT_THAT(line, HasSubstr("duration_seconds=1.500"));
  EXPECT_THAT(line, Not(HasSubstr("secret-payload")));
}

TEST(JobEventLogTest, ALongMessageIsCut) {
  const Job job = FailedJob();
  const std::string line =
      JobEventLog::Format({job, "failed", "E", std::string(5000, 'x'), {}});
  EXPECT_LT(line.size(), 700u);
}

TEST(JobEventLogTest, DropsBeyondTheRateAndReportsTheCountWithTheNextLine) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("job-events-test", sink);
  CountingObserver observer;
  // Burst of 3 and a refill so slow that the test cannot earn a token.
  JobEventLog events(logger, observer, /*per_second=*/1e-6, /*burst=*/3);
  const Job job = FailedJob();
  for (int i = 0; i < 10; ++i) events.Record({job, "retried", "E", "boom", {}});
  EXPECT_EQ(observer.suppressed.load(), 7);
  EXPECT_EQ(events.pending_suppressed(), 7);
  logger->flush();
  const std::string text = out.str();
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 3u);
  EXPECT_THAT(text, HasSubstr("outcome=retried"));
}

TEST(JobEventLogTest, TheNextLineThatPassesCarriesTheSuppressedCount) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("job-events-test", sink);
  CountingObserver observer;
  JobEventLog events(logger, observer, /*per_second=*/1000, /*burst=*/1);
  const Job job = FailedJob();
  events.Record({job, "failed", "E", "one", {}});
  // The burst is spent: the next lines within a millisecond are dropped
  // unless the clock already refilled; keep recording until one is dropped.
  int recorded = 1;
  while (observer.suppressed.load() == 0 && recorded < 100000) {
    events.Record({job, "failed", "E", "more", {}});
    ++recorded;
  }
  ASSERT_GT(observer.suppressed.load(), 0);
  const auto dropped = events.pending_suppressed();
  // A millisecond later the bucket has a token again.
  const auto until = std::chrono::steady_clock::now() + 5ms;
  while (std::chrono::steady_clock::now() < until) {
  }
  events.Record({job, "failed", "E", "after", {}});
  EXPECT_EQ(events.pending_suppressed(), 0);
  logger->flush();
  EXPECT_THAT(out.str(), HasSubstr(std::to_string(dropped) + " job log lines suppressed"));
}

}  // namespace
}  // namespace pgq::detail
