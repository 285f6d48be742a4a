#pragma once
// Readiness for `pgq run`: checks run on their own thread, and /readyz
// answers from their results, so a probe never waits longer than its budget
// on a database that is slow, saturated or gone.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_server.h"

namespace pgq::worker {

/// One readiness verdict: ok, and the JSON body /readyz serves
/// ({"status": ..., "checks": [{"name", "ok", "reason"}...]}).
struct Readiness {
  bool ok = false;
  nlohmann::ordered_json body;
};

/// Runs `check` on a background thread every `interval`, and at once when
/// a probe asks. Probe() waits at most `probe_wait` for a fresh result; when
/// the check is still running it answers with the last result and its age,
/// and turns 503 once the running check has taken longer than `probe_wait`
/// (the database is not answering). Logs every change of the failing
/// reasons once, not per probe.
class ReadinessMonitor {
 public:
  using Check = std::function<Readiness()>;
  ReadinessMonitor(Check check, std::chrono::milliseconds interval,
                   std::chrono::milliseconds probe_wait);
  ~ReadinessMonitor();
  ReadinessMonitor(const ReadinessMonitor&) = delete;
  ReadinessMonitor& operator=(const ReadinessMonitor&) = delete;

  /// The /readyz response.
  HttpResponse Probe();

 private:
  using Clock = std::chrono::steady_clock;
  void Loop(const std::stop_token& stop);
  void LogChange(const Readiness& r);

  Check check_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds probe_wait_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::uint64_t requested_ = 0;  // probes that asked for a fresh check
  std::uint64_t started_ = 0;    // request count when the current/last check began
  std::uint64_t finished_ = 0;   // request count covered by the last result
  bool running_ = false;
  Clock::time_point running_since_{};
  std::optional<Readiness> last_;
  Clock::time_point last_at_{};
  std::string logged_;  // failing reasons as last logged
  std::jthread thread_;
};

}  // namespace pgq::worker
