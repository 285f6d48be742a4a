#pragma once
// The jobs this worker has claimed and the dispatcher's wake-up, under one
// mutex: a handler that frees room must see "the dispatcher waits for room"
// and set the wake flag atomically, or the dispatcher would sleep through it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "pgq/observer.h"
#include "pgq/queries.h"

namespace pgq::detail {

class InFlightTable {
 public:
  /// Local backpressure, set before each Run(): never hold more claimed
  /// jobs than `capacity`, and claim only when `claim_threshold` fit.
  void Configure(std::int64_t capacity, std::int64_t claim_threshold, bool drain);
  std::int64_t claim_threshold() const noexcept { return claim_threshold_; }

  /// Opens for a run: handlers may take work; the first round claims at once.
  void Open();
  /// Stop(): the dispatcher's wait returns at once.
  void RequestStop();
  bool stop_requested() const noexcept { return stop_; }
  /// After a run, so the manager may Run() again.
  void ClearStop() { stop_ = false; }

  /// Claimed jobs (counting each id once).
  std::int64_t Size() const;
  /// capacity - Size().
  std::int64_t Free() const;
  /// Records fresh claims and hands them to the handler threads.
  void Add(std::vector<Job> jobs, Observer& observer);
  /// Whether a batch does not fit; if so the next handler that makes room
  /// wakes the dispatcher. Also returns the in-flight count it decided on.
  bool MarkIfFull(std::int64_t& in_flight);

  /// Whether this worker's own writes (completions, heartbeats) fail. While
  /// they do, the dispatcher claims nothing: a job claimed now could be
  /// neither kept alive nor recorded, and a peer would rescue and run it
  /// again. Clearing it wakes the dispatcher.
  void SetWritesFailing(bool failing);
  bool writes_failing() const noexcept { return writes_failing_; }

  /// Waits until woken, stopped or `timeout`; returns early on stop.
  void WaitForWake(std::chrono::milliseconds timeout);
  void Wake();

  /// Blocks until a claimed job can start; nullopt once closed and empty.
  struct Started {
    Job job;
    std::stop_token cancel;
  };
  std::optional<Started> NextToRun();
  /// A handler returned; `requeued`: the job went back for a retry.
  void Finished(JobId job_id, bool requeued);

  /// Sets the cancellation token of these jobs if held here.
  void Cancel(const std::vector<JobId>& ids);
  std::vector<JobId> Ids() const;

  /// Shutdown: no new starts; returns the ids that never started (no longer
  /// counted as in flight).
  std::vector<JobId> Close();
  /// Waits up to `grace` for every run to end; if some still run, sets their
  /// cancellation tokens and returns how many (0 when all ended).
  std::size_t WaitEmptyOrCancel(std::chrono::milliseconds grace);

 private:
  struct Entry {
    std::stop_source cancel;
    bool started = false;
    // Claims of this id not yet finished here: 2 when a retried job is
    // claimed again before its previous run has left. The requeue is written
    // before that run leaves, so a drain always sees the job queued or in
    // flight.
    int runs = 0;
  };
  void Leave(JobId job_id);  // mu_ held

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the dispatcher's wake-up and shutdown's wait
  std::condition_variable work_cv_;  // handler threads wait for work
  std::unordered_map<JobId, Entry> in_flight_;
  std::deque<Job> work_;  // claimed, not yet started
  bool accepting_ = true;
  bool wake_ = false;
  bool waiting_for_room_ = false;  // the dispatcher waits for handlers to finish
  std::atomic<bool> stop_{false};
  std::atomic<bool> writes_failing_{false};
  std::int64_t capacity_ = 0;
  std::int64_t claim_threshold_ = 0;
  bool drain_ = false;
};

}  // namespace pgq::detail
