#pragma once
// One warning line per kind of repeated failure instead of one per attempt:
// during a failover every claim, completion write and heartbeat fails for
// seconds, and a line per attempt buries the one that says why. Logs the
// first failure, then at most one line every 10 s (saying how many were
// left out), and one line when the failures end. One thread per instance.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace pgq::detail {

class FailureLog {
 public:
  explicit FailureLog(std::string what) : what_(std::move(what)) {}

  /// A failure: logged when it is the first of a run of failures or 10 s
  /// after the last line. `retry_in` 0: no fixed retry time to name.
  void Failed(spdlog::logger& log, std::string_view error,
              std::chrono::milliseconds retry_in) {
    const auto now = std::chrono::steady_clock::now();
    if (failures_ == 0 || now - logged_at_ >= kEvery) {
      const std::string retry =
          retry_in.count() > 0 ? "retrying in " + std::to_string(retry_in.count()) + " ms"
                               : "will retry";
      if (failures_ == 0) {
        log.warn("{} failed ({}): {}", what_, retry, error);
      } else {
        log.warn("{} still failing ({} attempts since the last line; {}): {}", what_,
                 failures_ - logged_failures_, retry, error);
      }
      logged_at_ = now;
      logged_failures_ = failures_;
    }
    ++failures_;
  }

  /// A success: ends a run of failures (one line if there was one).
  void Succeeded(spdlog::logger& log) {
    if (failures_ == 0) return;
    log.info("{} works again after {} failed attempts", what_, failures_);
    failures_ = 0;
    logged_failures_ = 0;
  }

  bool failing() const noexcept { return failures_ > 0; }

 private:
  static constexpr std::chrono::seconds kEvery{10};
  std::string what_;
  std::int64_t failures_ = 0;
  std::int64_t logged_failures_ = 0;
  std::chrono::steady_clock::time_point logged_at_;
};

}  // namespace pgq::detail
