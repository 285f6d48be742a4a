#include "runtime/housekeeper.h"

#include "runtime/backoff.h"

namespace pgq::detail {

void Housekeeper::Loop(const std::stop_token& token, std::chrono::milliseconds heartbeat_timeout) {
  Backoff backoff;
  const auto start = std::chrono::steady_clock::now();
  heartbeats_.Start(heartbeat_timeout, start);
  statistics_.Start(start);
  bool failing = false;
  while (!token.stop_requested()) {
    completions_.WaitForWork(token, failing ? backoff.jittered() : backoff.current(), failing);
    // Heartbeats go out even when completions fail: any writable connection
    // keeps this worker's claims from being rescued.
    const bool flushed = completions_.Flush();
    const auto now = std::chrono::steady_clock::now();
    const bool beating = heartbeats_.Tick(now);
    failing = !flushed || !beating;
    table_.SetWritesFailing(failing);
    if (failing) {
      backoff.Grow();
    } else {
      backoff.Reset();
      statistics_.Tick(now, [this] { return completions_.TakeWrittenCount(); });
    }
  }
}

}  // namespace pgq::detail
