#include "runtime/in_flight_table.h"

namespace pgq::detail {

void InFlightTable::Configure(std::int64_t capacity, std::int64_t claim_threshold, bool drain) {
  std::scoped_lock lock(mu_);
  capacity_ = capacity;
  claim_threshold_ = claim_threshold;
  drain_ = drain;
}

void InFlightTable::Open() {
  std::scoped_lock lock(mu_);
  accepting_ = true;
  wake_ = true;  // first round claims at once
}

void InFlightTable::RequestStop() {
  {
    // Under mu_: a notify between WaitForWake's check and its sleep would be
    // lost, and the loop would see the stop only dequeue_timeout later.
    std::scoped_lock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

std::int64_t InFlightTable::Size() const {
  std::scoped_lock lock(mu_);
  return static_cast<std::int64_t>(in_flight_.size());
}

std::int64_t InFlightTable::Free() const {
  std::scoped_lock lock(mu_);
  return capacity_ - static_cast<std::int64_t>(in_flight_.size());
}

void InFlightTable::Add(std::vector<Job> jobs, Observer& observer) {
  {
    std::scoped_lock lock(mu_);
    for (auto& job : jobs) {
      ++in_flight_[job.id].runs;
      observer.OnJobsClaimed(job.entrypoint, 1);
      if (job.rescued) observer.OnJobRescued(job.entrypoint);
      work_.push_back(std::move(job));
    }
  }
  work_cv_.notify_all();
}

bool InFlightTable::MarkIfFull(std::int64_t& in_flight) {
  std::scoped_lock lock(mu_);
  in_flight = static_cast<std::int64_t>(in_flight_.size());
  waiting_for_room_ = capacity_ - in_flight < claim_threshold_;
  return waiting_for_room_;
}

void InFlightTable::WaitForWake(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return wake_ || stop_.load(); });
  wake_ = false;
  waiting_for_room_ = false;
}

void InFlightTable::SetWritesFailing(bool failing) {
  if (writes_failing_.exchange(failing) && !failing) Wake();
}

void InFlightTable::Wake() {
  {
    std::scoped_lock lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

std::optional<InFlightTable::Started> InFlightTable::NextToRun() {
  std::unique_lock lock(mu_);
  work_cv_.wait(lock, [&] { return !work_.empty() || !accepting_; });
  if (work_.empty()) return std::nullopt;  // not accepting and nothing left
  Started out{std::move(work_.front()), {}};
  work_.pop_front();
  auto& entry = in_flight_[out.job.id];
  if (entry.started) entry.cancel = std::stop_source();  // a new run; the previous one keeps its token
  entry.started = true;
  out.cancel = entry.cancel.get_token();
  return out;
}

void InFlightTable::Finished(JobId job_id, bool requeued) {
  bool notify = false;
  {
    std::scoped_lock lock(mu_);
    Leave(job_id);
    const auto left = static_cast<std::int64_t>(in_flight_.size());
    // A requeue sends no NOTIFY: wake the dispatcher so its probe learns
    // when the job is due.
    if (requeued) wake_ = true;
    // Wake the dispatcher when it waits for room and a batch fits now, or
    // in drain mode once nothing is in flight (it may be done). Waking it
    // for every finished job cost a claim and a probe per job when idle.
    if ((waiting_for_room_ && capacity_ - left >= claim_threshold_) || (left == 0 && drain_)) {
      waiting_for_room_ = false;
      wake_ = true;
    }
    // Shutdown waits on cv_ for in_flight_ to empty.
    notify = wake_ || left == 0;
  }
  if (notify) cv_.notify_all();
}

void InFlightTable::Cancel(const std::vector<JobId>& ids) {
  std::scoped_lock lock(mu_);
  for (JobId job_id : ids) {
    if (auto it = in_flight_.find(job_id); it != in_flight_.end()) it->second.cancel.request_stop();
  }
}

std::vector<JobId> InFlightTable::Ids() const {
  std::vector<JobId> ids;
  std::scoped_lock lock(mu_);
  for (const auto& [job_id, entry] : in_flight_) ids.push_back(job_id);
  return ids;
}

std::vector<JobId> InFlightTable::Close() {
  std::vector<JobId> unstarted;
  {
    std::scoped_lock lock(mu_);
    accepting_ = false;
    for (const auto& job : work_) {
      unstarted.push_back(job.id);
      Leave(job.id);
    }
    work_.clear();
  }
  work_cv_.notify_all();
  return unstarted;
}

std::size_t InFlightTable::WaitEmptyOrCancel(std::chrono::milliseconds grace) {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, grace, [&] { return in_flight_.empty(); })) return 0;
  for (auto& [job_id, entry] : in_flight_) entry.cancel.request_stop();
  return in_flight_.size();
}

void InFlightTable::Leave(JobId job_id) {
  if (auto it = in_flight_.find(job_id); it != in_flight_.end() && --it->second.runs <= 0) {
    in_flight_.erase(it);
  }
}

}  // namespace pgq::detail
