#pragma once
// How long the dispatcher sleeps after a claim round (or whether a drain
// ends), as a pure function of what the round saw. A NOTIFY, a handler
// making room or Stop() may cut the sleep short; that is the caller's part.

#include <chrono>
#include <cstdint>
#include <optional>

#include "pgq/queries.h"
#include "pgq/runtime.h"

namespace pgq::detail {

struct WaitInputs {
  /// The claim statement failed this round (the probe was not run).
  bool claim_failed = false;
  /// No room for a whole batch: a finishing handler wakes the dispatcher.
  bool full = false;
  /// The probe's answer. Run only when the claim worked and there is room,
  /// so nullopt there means the probe failed (a failure backoff).
  std::optional<Queries::QueueProbe> probe;
  /// Claims currently held by this worker.
  std::int64_t in_flight = 0;
  RunMode mode = RunMode::kContinuous;
  std::chrono::milliseconds dequeue_timeout{30000};
  /// The current failure backoff (see Backoff).
  std::chrono::milliseconds failure_backoff{100};
};

struct WaitDecision {
  /// Drain mode: nothing queued and nothing in flight; Run() ends.
  bool stop_drain = false;
  /// How long to wait for a wake-up (when not stopping).
  std::chrono::milliseconds sleep{0};
  /// The wait was a failure backoff: the caller grows it afterwards.
  bool grow_backoff = false;
};

/// Short waits when work exists but was not claimable (held back by limits,
/// locked by a peer); until the next deferred job is due; otherwise the
/// full dequeue_timeout, since an INSERT's NOTIFY wakes us.
WaitDecision DecideWait(const WaitInputs& in);

}  // namespace pgq::detail
