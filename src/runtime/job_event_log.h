#pragma once
// One log line for every job that does not simply succeed: failed, held,
// retried, timed out (a handler's timeout is its exception) or rescued from
// a dead worker. The line names the job, never its payload. A token bucket
// keeps a poisoned queue from flooding the log; lines it drops are counted
// (Observer::OnJobLogSuppressed) and their number is logged with the next
// line that passes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "pgq/observer.h"
#include "pgq/queries.h"

namespace pgq::detail {

/// `burst` lines at once, refilled at `per_second`. Pure: the caller passes
/// the time, so tests need no clock. Not thread-safe on its own.
class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  TokenBucket(double per_second, double burst, TimePoint now)
      : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {}
  /// Takes one token if there is one.
  bool Take(TimePoint now);

 private:
  double per_second_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

struct JobEvent {
  const Job& job;
  /// exception (deleted) | failed (held) | retried | rescued
  std::string_view outcome;
  std::string_view exception_type;
  std::string_view message;
  std::chrono::duration<double> duration{0};
};

class JobEventLog {
 public:
  static constexpr double kPerSecond = 10;
  static constexpr double kBurst = 50;

  JobEventLog(std::shared_ptr<spdlog::logger> log, Observer& observer,
              double per_second = kPerSecond, double burst = kBurst)
      : log_(std::move(log)),
        observer_(observer),
        per_second_(per_second),
        burst_(burst),
        bucket_(per_second, burst, std::chrono::steady_clock::now()) {}

  void Record(const JobEvent& event);
  /// Lines dropped since the last one logged.
  std::int64_t pending_suppressed() const;

  /// The line itself (exposed for tests).
  static std::string Format(const JobEvent& event);

 private:
  std::shared_ptr<spdlog::logger> log_;
  Observer& observer_;
  const double per_second_;
  const double burst_;
  mutable std::mutex mu_;  // guards the bucket and the count
  TokenBucket bucket_;
  std::int64_t suppressed_ = 0;
};

}  // namespace pgq::detail
