#include "pgq/batching_producer.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
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

// The jobs of one Enqueue call: they travel in one flush.
struct Unit {
  std::vector<NewJob> jobs;
  std::vector<std::promise<JobId>> promises;
  SteadyClock::time_point queued;
  std::uint64_t seq = 0;
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
  // One flusher's statement runner, built on the constructor's thread so
  // that invalid settings fail there.
  struct Flusher {
    explicit Flusher(const DBSettings& db) : queries(executor, db) {}
    LeaseExecutor executor;
    ProducerQueries queries;
  };

  State(std::shared_ptr<ConnectionPool> pool_in, DBSettings db_in,
        BatchingProducerSettings settings_in, std::shared_ptr<Observer> observer_in)
      : pool(std::move(pool_in)),
        db(std::move(db_in)),
        settings(settings_in),
        observer_holder(std::move(observer_in)),
        observer(observer_holder ? observer_holder.get() : &pool->observer()) {}

  void Run(Flusher& flusher);
  void Write(Flusher& flusher, std::vector<Unit>& units);
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
  std::deque<Unit> pending;
  std::size_t pending_jobs = 0;
  std::uint64_t next_seq = 1;
  std::uint64_t flush_through = 0;  // units up to this seq ignore max_delay
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

std::future<JobId> BatchingProducer::Enqueue(NewJob job) {
  std::vector<NewJob> jobs;
  jobs.push_back(std::move(job));
  return std::move(Enqueue(std::move(jobs)).front());
}

std::vector<std::future<JobId>> BatchingProducer::Enqueue(std::vector<NewJob> jobs) {
  if (jobs.empty()) return {};
  for (const auto& job : jobs) detail::CheckNewJob(job);
  Unit unit;
  unit.promises.resize(jobs.size());
  std::vector<std::future<JobId>> futures;
  futures.reserve(jobs.size());
  for (auto& promise : unit.promises) futures.push_back(promise.get_future());
  unit.jobs = std::move(jobs);
  const std::size_t n = unit.jobs.size();

  State& s = *state_;
  std::unique_lock lock(s.mu);
  // An empty producer takes any call, so a call larger than max_pending
  // still gets in (alone).
  auto room = [&] { return s.closed || s.pending_jobs == 0 || s.pending_jobs + n <= s.settings.max_pending; };
  if (!room()) {
    if (s.settings.enqueue_timeout.count() <= 0 ||
        !s.room_cv.wait_for(lock, s.settings.enqueue_timeout, room)) {
      throw ProducerFullError("producer full: " + std::to_string(s.pending_jobs) +
                              " jobs pending (max_pending " +
                              std::to_string(s.settings.max_pending) + ")");
    }
  }
  if (s.closed) throw ProducerClosedError("producer is closed");
  const bool was_empty = s.pending.empty();
  unit.queued = SteadyClock::now();
  unit.seq = s.next_seq++;
  s.pending.push_back(std::move(unit));
  s.pending_jobs += n;
  s.observer->OnProducerPending(s.pending_jobs);
  if (was_empty || s.pending_jobs >= s.settings.max_batch) s.work_cv.notify_one();
  return futures;
}

void BatchingProducer::Flush() {
  std::scoped_lock lock(state_->mu);
  state_->flush_through = state_->next_seq - 1;
  state_->work_cv.notify_all();
}

void BatchingProducer::Close(ProducerShutdown mode) {
  State& s = *state_;
  std::scoped_lock close_lock(s.close_mu);
  std::deque<Unit> failed;
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
  for (auto& unit : failed) {
    for (auto& promise : unit.promises) {
      promise.set_exception(std::make_exception_ptr(
          ProducerClosedError("producer closed before the job was written")));
    }
  }
  for (auto& thread : s.threads) {
    if (thread.joinable()) thread.join();
  }
}

void BatchingProducer::State::Run(Flusher& flusher) {
  std::unique_lock lock(mu);
  for (;;) {
    work_cv.wait(lock, [&] { return closed || !pending.empty(); });
    if (pending.empty()) return;  // closed and nothing left
    const bool now = closed || pending_jobs >= settings.max_batch ||
                     pending.front().seq <= flush_through;
    if (!now) {
      const auto due = pending.front().queued + settings.max_delay;
      if (SteadyClock::now() < due) {
        work_cv.wait_until(lock, due);
        continue;  // look again: another flusher may have taken the jobs
      }
    }
    // Whole units, up to max_batch jobs; a unit larger than that goes alone.
    std::vector<Unit> units;
    std::size_t jobs = 0;
    while (!pending.empty() &&
           (units.empty() || jobs + pending.front().jobs.size() <= settings.max_batch)) {
      jobs += pending.front().jobs.size();
      units.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    pending_jobs -= jobs;
    observer->OnProducerPending(pending_jobs);
    room_cv.notify_all();
    if (!pending.empty()) work_cv.notify_one();  // another flusher can collect the rest
    lock.unlock();
    Write(flusher, units);
    lock.lock();
  }
}

// Sends the units' jobs and settles every promise, whatever happens.
void BatchingProducer::State::Write(Flusher& flusher, std::vector<Unit>& units) {
  std::vector<InFlight> jobs;
  std::unordered_set<std::string> keys;
  for (auto& unit : units) {
    for (std::size_t i = 0; i < unit.jobs.size(); ++i) {
      auto& job = unit.jobs[i];
      auto& promise = unit.promises[i];
      // A repeated key inside one flush would fail the statement (kRaise)
      // or be decided by the server in no stated order (kSkip): the first
      // job keeps it, as it would have had the jobs been sent one by one.
      if (job.dedupe_key && !keys.insert(*job.dedupe_key).second) {
        promise.set_exception(Duplicate(*job.dedupe_key, "an earlier job of the flush holds it"));
        continue;
      }
      jobs.push_back({std::move(job), &promise});
    }
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
