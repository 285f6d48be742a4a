#include "runtime/housekeeper.h"

#include "runtime/backoff.h"

namespace pgq::detail {

void Housekeeper::Loop(const std::stop_token& token, std::chrono::milliseconds heartbeat_timeout) {
  Backoff backoff;
  const auto start = std::chrono::steady_clock::now();
  heartbeats_.Start(heartbeat_timeout, start);
  statistics_.Start(start);
  while (!token.stop_requested()) {
    completions_.WaitForWork(token, backoff.current());
    if (completions_.Flush()) {
      backoff.Reset();
    } else {
      backoff.Grow();
    }
    const auto now = std::chrono::steady_clock::now();
    heartbeats_.Tick(now);
    statistics_.Tick(now, [this] { return completions_.TakeWrittenCount(); });
  }
}

}  // namespace pgq::detail
