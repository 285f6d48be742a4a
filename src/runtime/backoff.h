#pragma once
// The runtime's two retry shapes, written once: a doubling backoff for
// loops that keep going (claims, probes, completion writes) and a short
// bounded retry for the last writes of a shutdown.

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace pgq::detail {

/// 100 ms, doubling per failure, capped at 2 s; back to 100 ms on success.
/// The cap bounds how long a loop sleeps past the moment the database is
/// back (a promoted primary): a failover costs the fleet at most ~2 s more.
class Backoff {
 public:
  std::chrono::milliseconds current() const noexcept { return current_; }
  /// current() less up to a quarter, at random: a fleet that failed
  /// together (a failover) does not retry in lockstep.
  std::chrono::milliseconds jittered() const {
    thread_local std::minstd_rand random{std::random_device{}()};
    const auto spread = std::max<std::int64_t>(current_.count() / 4, 1);
    return current_ - std::chrono::milliseconds(
                          std::uniform_int_distribution<std::int64_t>(0, spread)(random));
  }
  void Grow() noexcept { current_ = std::min(current_ * 2, kMax); }
  void Reset() noexcept { current_ = kInitial; }

 private:
  static constexpr std::chrono::milliseconds kInitial{100};
  static constexpr std::chrono::milliseconds kMax{2000};
  std::chrono::milliseconds current_ = kInitial;
};

/// Calls `attempt(n)` (n = 0, 1, ...) up to 5 times until it returns true,
/// sleeping 200 ms * (n + 1) after each failure. Used only while shutting
/// down, when nothing else waits on this thread.
template <typename Attempt>
bool RetryFewTimes(Attempt attempt) {
  for (int n = 0; n < 5; ++n) {
    if (attempt(n)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200) * (n + 1));
  }
  return false;
}

}  // namespace pgq::detail
