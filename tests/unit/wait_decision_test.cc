// DecideWait: every branch of the dispatcher's sleep after a claim round.

#include "runtime/wait_decision.h"

#include <gtest/gtest.h>

#include <chrono>

namespace pgq::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

WaitInputs Probed(Queries::QueueProbe probe, RunMode mode = RunMode::kContinuous,
                  std::int64_t in_flight = 0) {
  WaitInputs in;
  in.probe = probe;
  in.mode = mode;
  in.in_flight = in_flight;
  in.dequeue_timeout = milliseconds(30000);
  in.failure_backoff = milliseconds(400);
  return in;
}

void ExpectSleep(const WaitDecision& d, milliseconds sleep, bool grow = false) {
  EXPECT_FALSE(d.stop_drain);
  EXPECT_EQ(d.sleep, sleep);
  EXPECT_EQ(d.grow_backoff, grow);
}

TEST(DecideWaitTest, ClaimFailureBacksOff) {
  WaitInputs in = Probed({});
  in.probe.reset();
  in.claim_failed = true;
  ExpectSleep(DecideWait(in), milliseconds(400), true);
  // Even in drain mode with nothing in flight: a failure never ends a drain.
  in.mode = RunMode::kDrain;
  ExpectSleep(DecideWait(in), milliseconds(400), true);
}

TEST(DecideWaitTest, FullWaitsForRoomUpToTheDequeueTimeout) {
  WaitInputs in = Probed({});
  in.probe.reset();  // not probed when full
  in.full = true;
  in.in_flight = 30;
  ExpectSleep(DecideWait(in), milliseconds(30000));
  in.mode = RunMode::kDrain;
  ExpectSleep(DecideWait(in), milliseconds(30000));
}

TEST(DecideWaitTest, ProbeFailureBacksOff) {
  WaitInputs in = Probed({});
  in.probe.reset();
  ExpectSleep(DecideWait(in), milliseconds(400), true);
}

TEST(DecideWaitTest, EligibleWorkLooksAgainSoon) {
  ExpectSleep(DecideWait(Probed({.eligible = true, .queued = true})), milliseconds(100));
  // Eligible wins over a deferred job's ETA.
  ExpectSleep(DecideWait(Probed({.eligible = true, .queued = true, .next_eta = microseconds(5000000)})),
              milliseconds(100));
}

TEST(DecideWaitTest, DeferredWorkSleepsUntilItIsDue) {
  ExpectSleep(DecideWait(Probed({.queued = true, .next_eta = microseconds(2500999)})),
              milliseconds(2500));
}

TEST(DecideWaitTest, DeferredEtaIsClampedToShortAndDequeueTimeout) {
  ExpectSleep(DecideWait(Probed({.queued = true, .next_eta = microseconds(20000)})),
              milliseconds(100));
  ExpectSleep(DecideWait(Probed({.queued = true, .next_eta = microseconds(3600000000LL)})),
              milliseconds(30000));
}

TEST(DecideWaitTest, QueuedButNotEligibleWithoutEtaLooksAgainSoon) {
  ExpectSleep(DecideWait(Probed({.queued = true})), milliseconds(100));
  // Queued work keeps a drain going.
  ExpectSleep(DecideWait(Probed({.queued = true}, RunMode::kDrain, 0)), milliseconds(100));
}

TEST(DecideWaitTest, DrainEndsWhenNothingIsQueuedOrInFlight) {
  const WaitDecision d = DecideWait(Probed({}, RunMode::kDrain, 0));
  EXPECT_TRUE(d.stop_drain);
  EXPECT_FALSE(d.grow_backoff);
}

TEST(DecideWaitTest, DrainWaitsWhileJobsAreInFlight) {
  ExpectSleep(DecideWait(Probed({}, RunMode::kDrain, 3)), milliseconds(30000));
}

TEST(DecideWaitTest, IdleContinuousWaitsTheDequeueTimeout) {
  ExpectSleep(DecideWait(Probed({}, RunMode::kContinuous, 0)), milliseconds(30000));
}

}  // namespace
}  // namespace pgq::detail
