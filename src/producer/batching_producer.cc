#include "pgq/batching_producer.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>

#include "pgq/queries.h"
#include "queries/new_job.h"

namespace pgq {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Statements per flush under kRaise: the first, then up to two re-runs
// without the jobs whose keys the previous one named.
constexpr int kMaxStatementsPerFlush = 3;

// An Executor over whichever lease the flusher holds for the current flush.
class LeaseExecutor final : public Executor {
 public:
  Rows Fetch(std::string_view sql, const Params& params) override {
    return lease_->Fetch(sql, params);
  }
  std::int64_t Execute(std::string_view sql, const Params& params) override {
    return lease_->Execute(sql, params);
  }
  void Use(Lease* lease) noexcept { lease_ = lease; }

 private:
  Lease* lease_ = nullptr;
};

// One job waiting for a flush. The jobs of one Enqueue call are adjacent in
// the queue and leave it together.
struct Entry {
  NewJob job;
  std::promise<JobId> promise;
  SteadyClock::time_point queued;
  std::uint64_t call = 0;     // the Enqueue call's sequence number
  std::size_t call_jobs = 1;  // jobs of that call
};

// One job on its way through a flush.
struct InFlight {
  NewJob job;
  std::promise<JobId>* promise;
};

std::exception_ptr Duplicate(const std::string& key, const char* why) {
  return std::make_exception_ptr(
      DuplicateJobError("duplicate dedupe key, job not enqueued (" + std::string(why) + "): " + key,
                        {key}));
}

}  // namespace

struct BatchingProducer::State {
  // One flusher's statement runner and buffers, built on the constructor's
  // thread so that invalid settings fail there.
  struct Flusher {
    explicit Flusher(const DBSettings& db) : queries(executor, db) {}
    LeaseExecutor executor;
    ProducerQueries queries;
    std::vector<Entry> taken;  // reused from flush to flush
  };

  State(std::shared_ptr<ConnectionPool> pool_in, DBSettings db_in,
        BatchingProducerSettings settings_in, std::shared_ptr<Observer> observer_in)
      : pool(std::move(pool_in)),
        db(std::move(db_in)),
        settings(settings_in),
        observer_holder(std::move(observer_in)),
        observer(observer_holder ? observer_holder.get() : &pool->observer()) {}

  // Waits for room and queues `entries` as one call.
  void Queue(std::span<Entry> entries);
  void Run(Flusher& flusher);
  bool DueNow(SteadyClock::time_point& due) const;
  void Take(std::vector<Entry>& taken);
  void Write(Flusher& flusher, std::vector<Entry>& taken);
  void RunStatement(Flusher& flusher, std::vector<InFlight>& jobs, bool may_retry);

  const std::shared_ptr<ConnectionPool> pool;
  const DBSettings db;
  const BatchingProducerSettings settings;
  const std::shared_ptr<Observer> observer_holder;
  Observer* const observer;
  std::vector<std::unique_ptr<Flusher>> flushers;  // fixed after construction

  mutable std::mutex mu;            // guards the members below it
  std::condition_variable work_cv;  // flushers: jobs arrived, batch full, Flush, Close
  std::condition_variable room_cv;  // Enqueue: room freed, Close
  std::deque<Entry> pending;
  std::size_t pending_jobs = 0;
  std::size_t writing = 0;          // flushes between taking their jobs and settling them
  std::uint64_t next_call = 1;
  std::uint64_t flush_through = 0;  // calls up to this one ignore max_delay
  bool closed = false;

  std::mutex close_mu;  // serialises Close(); guards threads
  std::vector<std::jthread> threads;
};

BatchingProducer::BatchingProducer(std::shared_ptr<ConnectionPool> pool, DBSettings db_settings,
                                   BatchingProducerSettings settings,
                                   std::shared_ptr<Observer> observer) {
  if (!pool) throw LogicError("BatchingProducer needs a connection pool");
  if (settings.max_batch == 0) throw LogicError("BatchingProducer: max_batch must be at least 1");
  if (settings.max_pending == 0) {
    throw LogicError("BatchingProducer: max_pending must be at least 1");
  }
  if (settings.flushers == 0) throw LogicError("BatchingProducer: flushers must be at least 1");
  state_ = std::make_shared<State>(std::move(pool), std::move(db_settings), settings,
                                   std::move(observer));
  for (std::size_t i = 0; i < settings.flushers; ++i) {
    state_->flushers.push_back(std::make_unique<State::Flusher>(state_->db));
  }
  for (auto& flusher : state_->flushers) {
    state_->threads.emplace_back([state = state_.get(), f = flusher.get()] { state->Run(*f); });
  }
}

BatchingProducer::~BatchingProducer() { Close(ProducerShutdown::kFlush); }

const BatchingProducerSettings& BatchingProducer::settings() const noexcept {
  return state_->settings;
}

std::size_t BatchingProducer::Pending() const {
  std::scoped_lock lock(state_->mu);
  return state_->pending_jobs;
}

// The entries are built before the lock is taken (a promise allocates), so
// that many threads enqueueing at once hold `mu` only to append.
void BatchingProducer::State::Queue(std::span<Entry> entries) {
  const std::size_t n = entries.size();
  bool wake = false;
  {
    std::unique_lock lock(mu);
    // An empty producer takes any call, so a call larger than max_pending
    // still gets in (alone).
    auto room = [&] {
      return closed || pending_jobs == 0 || pending_jobs + n <= settings.max_pending;
    };
    if (!room()) {
      if (settings.enqueue_timeout.count() <= 0 ||
          !room_cv.wait_for(lock, settings.enqueue_timeout, room)) {
        throw ProducerFullError("producer full: " + std::to_string(pending_jobs) +
                                " jobs pending (max_pending " +
                                std::to_string(settings.max_pending) + ")");
      }
    }
    if (closed) throw ProducerClosedError("producer is closed");
    const bool was_empty = pending.empty();
    const auto now = SteadyClock::now();
    const std::uint64_t call = next_call++;
    for (auto& entry : entries) {
      entry.queued = now;
      entry.call = call;
      entry.call_jobs = n;
      pending.push_back(std::move(entry));
    }
    pending_jobs += n;
    observer->OnProducerPending(pending_jobs);
    wake = was_empty || pending_jobs >= settings.max_batch;
  }
  if (wake) work_cv.notify_one();
}

std::future<JobId> BatchingProducer::Enqueue(NewJob job) {
  detail::CheckNewJob(job);
  Entry entry;
  entry.job = std::move(job);
  auto future = entry.promise.get_future();
  state_->Queue({&entry, 1});
  return future;
}

std::vector<std::future<JobId>> BatchingProducer::Enqueue(std::vector<NewJob> jobs) {
  if (jobs.empty()) return {};
  for (const auto& job : jobs) detail::CheckNewJob(job);
  std::vector<Entry> entries(jobs.size());
  std::vector<std::future<JobId>> futures;
  futures.reserve(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    entries[i].job = std::move(jobs[i]);
    futures.push_back(entries[i].promise.get_future());
  }
  state_->Queue(entries);
  return futures;
}

void BatchingProducer::Flush() {
  std::scoped_lock lock(state_->mu);
  state_->flush_through = state_->next_call - 1;
  state_->work_cv.notify_all();
}

void BatchingProducer::Close(ProducerShutdown mode) {
  State& s = *state_;
  std::scoped_lock close_lock(s.close_mu);
  std::deque<Entry> failed;
  {
    std::scoped_lock lock(s.mu);
    s.closed = true;
    if (mode == ProducerShutdown::kFail) {
      failed.swap(s.pending);
      s.pending_jobs = 0;
      s.observer->OnProducerPending(0);
    }
    s.work_cv.notify_all();
    s.room_cv.notify_all();
  }
  for (auto& entry : failed) {
    entry.promise.set_exception(std::make_exception_ptr(
        ProducerClosedError("producer closed before the job was written")));
  }
  for (auto& thread : s.threads) {
    if (thread.joinable()) thread.join();
  }
}

// Whether the pending jobs should go now; if not, `due` is when they should.
// Called with `mu` held and something pending.
bool BatchingProducer::State::DueNow(SteadyClock::time_point& due) const {
  if (closed || pending_jobs >= settings.max_batch || pending.front().call <= flush_through) {
    return true;
  }
  // Group commit: nothing is being written, so nobody would join the jobs
  // by waiting; jobs that come meanwhile gather for the next flush.
  if (settings.flush_when_idle && writing == 0) return true;
  due = pending.front().queued + settings.max_delay;
  return SteadyClock::now() >= due;
}

// Moves whole calls, up to max_batch jobs, from `pending` to `taken`; a call
// larger than that goes alone.
void BatchingProducer::State::Take(std::vector<Entry>& taken) {
  while (!pending.empty()) {
    const std::size_t call_jobs = pending.front().call_jobs;
    if (!taken.empty() && taken.size() + call_jobs > settings.max_batch) break;
    for (std::size_t i = 0; i < call_jobs; ++i) {
      taken.push_back(std::move(pending.front()));
      pending.pop_front();
    }
  }
  pending_jobs -= taken.size();
}

void BatchingProducer::State::Run(Flusher& flusher) {
  std::unique_lock lock(mu);
  for (;;) {
    work_cv.wait(lock, [&] { return closed || !pending.empty(); });
    if (pending.empty()) return;  // closed and nothing left
    SteadyClock::time_point due;
    if (!DueNow(due)) {
      work_cv.wait_until(lock, due);
      continue;  // look again: another flusher may have taken the jobs
    }
    Take(flusher.taken);
    ++writing;
    observer->OnProducerPending(pending_jobs);
    room_cv.notify_all();
    if (!pending.empty()) work_cv.notify_one();  // another flusher can collect the rest
    lock.unlock();
    Write(flusher, flusher.taken);
    flusher.taken.clear();
    lock.lock();
    --writing;
  }
}

// Sends the jobs and settles every promise, whatever happens.
void BatchingProducer::State::Write(Flusher& flusher, std::vector<Entry>& taken) {
  std::vector<InFlight> jobs;
  jobs.reserve(taken.size());
  std::unordered_set<std::string> keys;
  for (auto& entry : taken) {
    // A repeated key inside one flush would fail the statement (kRaise)
    // or be decided by the server in no stated order (kSkip): the first
    // job keeps it, as it would have had the jobs been sent one by one.
    if (entry.job.dedupe_key && !keys.insert(*entry.job.dedupe_key).second) {
      entry.promise.set_exception(
          Duplicate(*entry.job.dedupe_key, "an earlier job of the flush holds it"));
      continue;
    }
    jobs.push_back({std::move(entry.job), &entry.promise});
  }
  for (int statement = 1; !jobs.empty(); ++statement) {
    RunStatement(flusher, jobs, statement < kMaxStatementsPerFlush);
  }
}

// Runs one enqueue statement for `jobs`. Settles the promises it can and
// leaves in `jobs` those to send again (kRaise conflicts, when `may_retry`).
void BatchingProducer::State::RunStatement(Flusher& flusher, std::vector<InFlight>& jobs,
                                           bool may_retry) {
  std::vector<NewJob> batch;
  batch.reserve(jobs.size());
  for (auto& job : jobs) batch.push_back(std::move(job.job));
  const auto start = SteadyClock::now();
  std::vector<std::optional<JobId>> ids;
  std::exception_ptr error;
  std::optional<std::vector<std::string>> conflicting;
  try {
    Lease lease = pool->Acquire();
    flusher.executor.Use(&lease);
    try {
      ids = flusher.queries.Enqueue(batch, settings.on_conflict);
    } catch (...) {
      flusher.executor.Use(nullptr);
      throw;
    }
    flusher.executor.Use(nullptr);
  } catch (const DuplicateJobError& e) {
    error = std::current_exception();
    conflicting = e.dedupe_keys();
  } catch (...) {
    error = std::current_exception();
  }
  observer->OnProducerFlush(batch.size(), SteadyClock::now() - start, error == nullptr);

  if (!error) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (i < ids.size() && ids[i]) {
        jobs[i].promise->set_value(*ids[i]);
      } else if (batch[i].dedupe_key) {
        jobs[i].promise->set_exception(Duplicate(*batch[i].dedupe_key, "a live job holds it"));
      } else {
        jobs[i].promise->set_exception(std::make_exception_ptr(
            RuntimeError("enqueue statement returned no id for a job without dedupe key")));
      }
    }
    jobs.clear();
    return;
  }
  // kRaise: fail the jobs holding the named keys, send the rest again. When
  // the error names none of this flush's keys, every job gets the error.
  std::vector<InFlight> again;
  if (conflicting && may_retry) {
    const std::unordered_set<std::string> named(conflicting->begin(), conflicting->end());
    std::size_t hit = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (batch[i].dedupe_key && named.count(*batch[i].dedupe_key) != 0) ++hit;
    }
    if (hit > 0) {
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (batch[i].dedupe_key && named.count(*batch[i].dedupe_key) != 0) {
          jobs[i].promise->set_exception(Duplicate(*batch[i].dedupe_key, "a live job holds it"));
        } else {
          again.push_back({std::move(batch[i]), jobs[i].promise});
        }
      }
      jobs = std::move(again);
      return;
    }
  }
  for (auto& job : jobs) job.promise->set_exception(error);
  jobs.clear();
}

}  // namespace pgq
