#pragma once
// /livez: whether the process should be restarted. It never touches the
// database, so that a database outage does not restart the whole fleet.

#include <chrono>

#include "http/http_server.h"
#include "run/run_state.h"

namespace pgq::worker {

/// 200 unless the claim loop of a started, non-draining worker has not
/// turned for max(3 * dequeue_timeout, 60 s); then 503 saying for how long.
HttpResponse Livez(const RunState& state, std::chrono::milliseconds dequeue_timeout);

}  // namespace pgq::worker
