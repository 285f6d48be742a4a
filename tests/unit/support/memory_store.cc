#include "memory_store.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "pgq/error.h"
#include "queries/events.h"

namespace pgq::testing_util {
namespace {

// Refuses every statement: the in-memory runtime must never reach SQL.
class NoSqlDriver final : public Driver {
 public:
  Rows Fetch(std::string_view, const Params&) override { Refuse(); }
  std::int64_t Execute(std::string_view, const Params&) override { Refuse(); }
  std::unique_ptr<Subscription> Listen(std::string_view, NotificationCallback,
                                       ReconnectCallback) override {
    Refuse();
  }
  bool ListenerHealthy() const override { return false; }

 private:
  [[noreturn]] static void Refuse() { throw LogicError("the in-memory store runs no SQL"); }
};

}  // namespace

class MemoryStore::Listener final : public Subscription {
 public:
  Listener(MemoryStore& store, int key) : store_(store), key_(key) {}
  ~Listener() override {
    std::scoped_lock lock(store_.listeners_mu_);
    store_.listeners_.erase(key_);
  }

 private:
  MemoryStore& store_;
  int key_;
};

MemoryStore::MemoryStore(DBSettings settings)
    : settings_(std::move(settings)),
      no_sql_(std::make_unique<NoSqlDriver>()),
      queries_(std::make_unique<Queries>(*no_sql_, settings_)) {}

MemoryStore::~MemoryStore() = default;

JobId MemoryStore::Enqueue(const std::string& entrypoint, std::chrono::microseconds delay,
                           std::int32_t priority) {
  JobId id = 0;
  {
    std::scoped_lock lock(mu_);
    id = next_id_++;
    Job job;
    job.id = id;
    job.entrypoint = entrypoint;
    job.priority = priority;
    job.created = job.updated = job.heartbeat = Clock::now();
    job.execute_after = job.created + delay;
    jobs_[id] = job;
  }
  NotifyTableChanged("insert");
  return id;
}

std::optional<Job> MemoryStore::Find(JobId id) const {
  std::scoped_lock lock(mu_);
  if (auto it = jobs_.find(id); it != jobs_.end()) return it->second;
  return std::nullopt;
}

std::optional<JobStatus> MemoryStore::LastLogged(JobId id) const {
  std::scoped_lock lock(mu_);
  if (auto it = logged_.find(id); it != logged_.end()) return it->second;
  return std::nullopt;
}

std::string MemoryStore::LastTraceback(JobId id) const {
  std::scoped_lock lock(mu_);
  auto it = tracebacks_.find(id);
  return it == tracebacks_.end() ? std::string() : it->second;
}

std::int64_t MemoryStore::CountWithStatus(JobStatus status) const {
  std::scoped_lock lock(mu_);
  return std::count_if(jobs_.begin(), jobs_.end(),
                       [&](const auto& row) { return row.second.status == status; });
}

std::int64_t MemoryStore::probes() const {
  std::scoped_lock lock(mu_);
  return probes_;
}

std::int64_t MemoryStore::released() const {
  std::scoped_lock lock(mu_);
  return released_;
}

PruneReport MemoryStore::Prune(const RetentionPolicy&) {
  std::scoped_lock lock(mu_);
  ++prune_runs_;
  PruneReport report;
  report.ran = true;
  report.complete = true;
  return report;
}

std::int64_t MemoryStore::prune_runs() const {
  std::scoped_lock lock(mu_);
  return prune_runs_;
}

void MemoryStore::SetWritesFailing(bool failing) {
  std::scoped_lock lock(mu_);
  writes_failing_ = failing;
}

std::int64_t MemoryStore::failed_writes() const {
  std::scoped_lock lock(mu_);
  return failed_writes_;
}

std::int64_t MemoryStore::dequeues() const {
  std::scoped_lock lock(mu_);
  return dequeues_;
}

std::vector<Job> MemoryStore::Dequeue(const ClaimRequest& request) {
  const auto& [batch_size, entrypoints, queue_manager_id, worker_cap, heartbeat_timeout] = request;
  std::scoped_lock lock(mu_);
  ++dequeues_;
  const auto now = Clock::now();
  std::int64_t owned = 0;
  std::map<std::string, std::int64_t> picked;  // fleet-wide, per entrypoint
  for (const auto& [id, job] : jobs_) {
    if (job.status != JobStatus::kPicked) continue;
    ++picked[job.entrypoint];
    if (job.queue_manager_id == queue_manager_id) ++owned;
  }
  std::vector<Job*> candidates;
  for (auto& [id, job] : jobs_) {
    const auto limit = std::find_if(entrypoints.begin(), entrypoints.end(),
                                    [&](const auto& e) { return e.name == job.entrypoint; });
    if (limit == entrypoints.end()) continue;
    const bool stale = job.status == JobStatus::kPicked && job.heartbeat + heartbeat_timeout < now;
    if ((job.status == JobStatus::kQueued && job.execute_after <= now) || stale) {
      candidates.push_back(&job);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Job* a, const Job* b) { return a->priority > b->priority; });
  std::vector<Job> out;
  for (Job* job : candidates) {
    if (static_cast<std::int64_t>(out.size()) >= batch_size) break;
    if (worker_cap && owned >= *worker_cap) break;
    const bool stale = job->status == JobStatus::kPicked;  // takeover ignores the limits
    const auto limit = std::find_if(entrypoints.begin(), entrypoints.end(),
                                    [&](const auto& e) { return e.name == job->entrypoint; });
    if (!stale && limit->concurrency_limit > 0 &&
        picked[job->entrypoint] >= limit->concurrency_limit) {
      continue;
    }
    if (!stale) ++picked[job->entrypoint];
    ++owned;
    job->status = JobStatus::kPicked;
    job->queue_manager_id = std::string(queue_manager_id);
    job->heartbeat = job->updated = now;
    Job claimed = *job;
    claimed.rescued = stale;
    out.push_back(std::move(claimed));
  }
  return out;
}

void MemoryStore::Complete(const std::vector<Completion>& completions) {
  {
    std::scoped_lock lock(mu_);
    if (writes_failing_) {
      ++failed_writes_;
      throw ReadOnlyError("cannot execute DELETE in a read-only transaction (SQLSTATE 25006)",
                          "25006");
    }
    for (const auto& c : completions) {
      auto it = jobs_.find(c.id);
      if (it == jobs_.end()) continue;  // already gone: a silent no-op
      logged_[c.id] = c.status;
      if (c.traceback) tracebacks_[c.id] = *c.traceback;
      if (c.status == JobStatus::kFailed) {
        it->second.status = JobStatus::kFailed;
        it->second.queue_manager_id.clear();
      } else {
        jobs_.erase(it);
      }
    }
  }
  NotifyTableChanged("delete");
}

bool MemoryStore::Retry(JobId id, std::chrono::microseconds delay,
                        std::optional<std::string> traceback) {
  std::scoped_lock lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  Job& job = it->second;
  job.status = JobStatus::kQueued;
  job.queue_manager_id.clear();
  job.attempts += 1;
  job.updated = Clock::now();
  job.execute_after = job.updated + delay;
  logged_[id] = JobStatus::kQueued;
  if (traceback) tracebacks_[id] = *traceback;
  return true;  // an UPDATE: no NOTIFY, as in PostgreSQL
}

void MemoryStore::Heartbeat(const std::vector<JobId>& ids) {
  std::scoped_lock lock(mu_);
  if (writes_failing_ && !ids.empty()) {
    ++failed_writes_;
    throw ReadOnlyError("cannot execute UPDATE in a read-only transaction (SQLSTATE 25006)",
                        "25006");
  }
  const auto now = Clock::now();
  for (JobId id : ids) {
    if (auto it = jobs_.find(id); it != jobs_.end()) it->second.heartbeat = now;
  }
}

std::int64_t MemoryStore::Release(const std::vector<JobId>& ids,
                                  std::string_view queue_manager_id) {
  std::scoped_lock lock(mu_);
  std::int64_t count = 0;
  for (JobId id : ids) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.status != JobStatus::kPicked ||
        it->second.queue_manager_id != queue_manager_id) {
      continue;
    }
    it->second.status = JobStatus::kQueued;
    it->second.queue_manager_id.clear();
    logged_[id] = JobStatus::kQueued;
    ++count;
  }
  released_ += count;
  return count;
}

Queries::QueueProbe MemoryStore::ProbeQueue(const std::vector<std::string>& entrypoints) {
  std::scoped_lock lock(mu_);
  ++probes_;
  const auto now = Clock::now();
  Queries::QueueProbe probe;
  for (const auto& [id, job] : jobs_) {
    if (job.status != JobStatus::kQueued ||
        std::find(entrypoints.begin(), entrypoints.end(), job.entrypoint) == entrypoints.end()) {
      continue;
    }
    probe.queued = true;
    if (job.execute_after <= now) {
      probe.eligible = true;
    } else {
      const auto eta = std::chrono::duration_cast<std::chrono::microseconds>(job.execute_after - now);
      if (!probe.next_eta || eta < *probe.next_eta) probe.next_eta = eta;
    }
  }
  return probe;
}

void MemoryStore::Notify(std::string_view channel, std::string_view payload) {
  std::scoped_lock lock(listeners_mu_);
  if (listener_down_ || lose_notifications_) return;
  for (const auto& [key, listener] : listeners_) {
    if (listener.channel == channel) {
      listener.callback({std::string(channel), std::string(payload), 0});
    }
  }
}

std::unique_ptr<Subscription> MemoryStore::Listen(std::string_view channel,
                                                  NotificationCallback callback,
                                                  ReconnectCallback on_reconnect) {
  std::scoped_lock lock(listeners_mu_);
  const int key = next_listener_++;
  listeners_[key] = {std::string(channel), std::move(callback), std::move(on_reconnect)};
  return std::make_unique<Listener>(*this, key);
}

bool MemoryStore::ListenerHealthy() const {
  std::scoped_lock lock(listeners_mu_);
  return !listeners_.empty() && !listener_down_;
}

void MemoryStore::SetListenerDown(bool down) {
  std::scoped_lock lock(listeners_mu_);
  const bool back = listener_down_ && !down;
  listener_down_ = down;
  if (!back) return;
  for (const auto& [key, listener] : listeners_) {
    if (listener.on_reconnect) listener.on_reconnect();
  }
}

void MemoryStore::LoseNotifications(bool lose) {
  std::scoped_lock lock(listeners_mu_);
  lose_notifications_ = lose;
}

Queries& MemoryStore::queries() noexcept { return *queries_; }

void MemoryStore::NotifyTableChanged(const std::string& operation) {
  nlohmann::ordered_json extra;
  extra["operation"] = operation;
  extra["table"] = settings_.queue_table;
  Notify(settings_.channel, detail::EventJson(settings_.channel, "table_changed_event", extra));
}

}  // namespace pgq::testing_util
