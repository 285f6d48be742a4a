#include "runtime/heartbeats.h"

#include <algorithm>

namespace pgq::detail {

void Heartbeats::Start(std::chrono::milliseconds heartbeat_timeout,
                       std::chrono::steady_clock::time_point now) {
  every_ = std::max<std::chrono::milliseconds>(heartbeat_timeout / 4,
                                               std::chrono::milliseconds(50));
  next_ = now + every_;
}

void Heartbeats::Tick(std::chrono::steady_clock::time_point now) {
  if (now < next_) return;
  next_ = now + every_;
  const auto ids = table_.Ids();
  try {
    store_.Heartbeat(ids);
  } catch (const std::exception& e) {
    log_->warn("heartbeat for {} jobs failed: {}", ids.size(), e.what());
  }
}

}  // namespace pgq::detail
