#include "runtime/dispatcher.h"

#include <algorithm>

#include "runtime/wait_decision.h"

namespace pgq::detail {

using SteadyClock = std::chrono::steady_clock;

bool Dispatcher::ClaimWhileRoom(const RunOptions& options,
                                const std::vector<EntrypointLimit>& limits) {
  // Built once per round; only the batch size changes between claims.
  ClaimRequest request{.batch_size = 0,
                       .entrypoints = limits,
                       .queue_manager_id = p_.queue_manager_id,
                       .worker_cap = options.max_concurrent_tasks,
                       .heartbeat_timeout = options.heartbeat_timeout};
  // This worker could neither keep new claims alive nor record them: a peer
  // would rescue and run them again. The housekeeper's next successful write
  // clears the flag and wakes us.
  if (p_.table.writes_failing()) return false;
  while (!p_.table.stop_requested()) {
    const std::int64_t free = p_.table.Free();
    // Claim full batches: waking for every single freed slot would turn
    // one claim of `batch_size` jobs into many claims of one.
    if (free < p_.table.claim_threshold()) break;
    const std::int64_t want = std::min(free, options.batch_size);
    std::vector<Job> jobs;
    try {
      const auto t0 = SteadyClock::now();
      request.batch_size = want;
      jobs = p_.store.Dequeue(request);
      p_.observer.OnDequeue(std::chrono::duration<double>(SteadyClock::now() - t0));
      backoff_.Reset();
      failures_.Succeeded(*p_.log);
    } catch (const std::exception& e) {
      failures_.Failed(*p_.log, e.what(), backoff_.current());
      return false;
    }
    const bool partial = static_cast<std::int64_t>(jobs.size()) < want;
    if (jobs.empty()) break;
    for (const auto& job : jobs) {
      if (job.rescued) p_.events.Record({job, "rescued", {}, "its worker's heartbeat stopped", {}});
    }
    p_.table.Add(std::move(jobs), p_.observer);
    // Fewer than asked for: the rest of the queue is locked, deferred or
    // empty, and claiming again at once would only find the same. An
    // INSERT's NOTIFY or the probe decides when to look again.
    if (partial) break;
  }
  return true;
}

void Dispatcher::Run(const RunOptions& options, const std::vector<EntrypointLimit>& limits,
                     const std::vector<std::string>& names) {
  backoff_.Reset();
  while (!p_.table.stop_requested()) {
    last_loop_ = SteadyClock::now().time_since_epoch().count();
    WaitInputs in;
    in.mode = options.mode;
    in.dequeue_timeout = options.dequeue_timeout;
    in.claim_failed = !ClaimWhileRoom(options, limits);
    if (p_.table.stop_requested()) break;
    if (!in.claim_failed) {
      // Checked and flagged under one lock: the handler that makes room for
      // a batch sees the flag and wakes us.
      in.full = p_.table.MarkIfFull(in.in_flight);
      if (!in.full) {
        try {
          in.probe = p_.store.ProbeQueue(names);
        } catch (const std::exception& e) {
          p_.log->warn("queue probe failed: {}", e.what());
        }
      }
    }
    in.failure_backoff = backoff_.jittered();
    const WaitDecision decision = DecideWait(in);
    if (decision.stop_drain) {
      p_.log->info("drain: nothing queued or in flight");
      break;
    }
    p_.table.WaitForWake(decision.sleep);
    if (decision.grow_backoff) backoff_.Grow();
  }
}

}  // namespace pgq::detail
