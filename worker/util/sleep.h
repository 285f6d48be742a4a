#pragma once
// Waiting that a stop request cuts short (retry back-offs, sampling loops,
// the `sleep` handler).

#include <chrono>
#include <stop_token>

namespace pgq::worker {

/// Sleeps for `duration` or until `stop` is requested, whichever is first.
/// Returns false when it returned because of the stop request.
bool SleepUnlessStopped(std::chrono::milliseconds duration, const std::stop_token& stop);

}  // namespace pgq::worker
