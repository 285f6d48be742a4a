#include "runtime/heartbeats.h"

#include <algorithm>

namespace pgq::detail {

void Heartbeats::Start(std::chrono::milliseconds heartbeat_timeout,
                       std::chrono::steady_clock::time_point now) {
  every_ = std::max<std::chrono::milliseconds>(heartbeat_timeout / 4,
                                               std::chrono::milliseconds(50));
  next_ = now + every_;
}

bool Heartbeats::Tick(std::chrono::steady_clock::time_point now) {
  if (now < next_) return !failures_.failing();
  const auto ids = table_.Ids();
  try {
    store_.Heartbeat(ids);
    next_ = now + every_;
    failures_.Succeeded(*log_);
    return true;
  } catch (const std::exception& e) {
    // Due again on the next housekeeping round (which backs off): the claims
    // expire after heartbeat_timeout whether or not anyone logged it.
    failures_.Failed(*log_, e.what(), std::chrono::milliseconds(0));
    return false;
  }
}

}  // namespace pgq::detail
