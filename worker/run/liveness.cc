#include "run/liveness.h"

#include <algorithm>
#include <string>

namespace pgq::worker {

using namespace std::chrono_literals;

HttpResponse Livez(const RunState& state, std::chrono::milliseconds dequeue_timeout) {
  if (!state.started() || state.draining()) return {200, "text/plain; charset=utf-8", "ok\n"};
  const auto health = state.queuer().queue_manager().Health();
  const auto stalled = std::chrono::steady_clock::now() - health.last_loop;
  const auto limit = std::max<std::chrono::milliseconds>(dequeue_timeout * 3, 60s);
  if (health.running && stalled > limit) {
    return {503, "text/plain; charset=utf-8",
            "claim loop has not turned for " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stalled).count()) +
                " s\n"};
  }
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

}  // namespace pgq::worker
