#pragma once
// The runtime's two retry shapes, written once: a doubling backoff for
// loops that keep going (claims, probes, completion writes) and a short
// bounded retry for the last writes of a shutdown.

#include <algorithm>
#include <chrono>
#include <thread>

namespace pgq::detail {

/// 100 ms, doubling per failure, capped at 5 s; back to 100 ms on success.
class Backoff {
 public:
  std::chrono::milliseconds current() const noexcept { return current_; }
  void Grow() noexcept { current_ = std::min(current_ * 2, kMax); }
  void Reset() noexcept { current_ = kInitial; }

 private:
  static constexpr std::chrono::milliseconds kInitial{100};
  static constexpr std::chrono::milliseconds kMax{5000};
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
