#include "runtime/wait_decision.h"

#include <algorithm>

namespace pgq::detail {

WaitDecision DecideWait(const WaitInputs& in) {
  using std::chrono::milliseconds;
  constexpr milliseconds kShort{100};
  WaitDecision out;
  if (in.claim_failed || (!in.full && !in.probe)) {
    out.sleep = in.failure_backoff;
    out.grow_backoff = true;
    return out;
  }
  out.sleep = in.dequeue_timeout;
  if (in.full) return out;  // waits for room
  const auto& probe = *in.probe;
  if (probe.eligible) {
    out.sleep = kShort;  // eligible work held back by limits, or a peer claiming it now
  } else if (probe.next_eta) {
    out.sleep = std::clamp(std::chrono::duration_cast<milliseconds>(*probe.next_eta), kShort,
                           in.dequeue_timeout);
  } else if (probe.queued) {
    out.sleep = kShort;
  } else if (in.mode == RunMode::kDrain && in.in_flight == 0) {
    // Decided on this probe, not an earlier one: rows a peer was claiming
    // looked queued then, and its claim sends no NOTIFY to wait for.
    out.stop_drain = true;
    out.sleep = milliseconds(0);
  }
  return out;
}

}  // namespace pgq::detail
