#pragma once
/// @file
/// Group-committed enqueue for services that enqueue from many threads.
///
/// `ProducerQueries::Enqueue` costs one statement and one durable commit per
/// call, so a service that enqueues one job per request is bounded by commit
/// latency per connection. BatchingProducer collects what many threads
/// enqueue and writes it with one enqueue statement per flush, so many jobs
/// share one commit. See docs/producers.md for when to use it instead of a
/// per-call or a transactional enqueue.

#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <vector>

#include "pgq/error.h"
#include "pgq/job.h"
#include "pgq/observer.h"
#include "pgq/pool.h"
#include "pgq/settings.h"

namespace pgq {

inline constexpr std::size_t kDefaultProducerMaxBatch = 500;
inline constexpr std::chrono::microseconds kDefaultProducerMaxDelay{5000};
inline constexpr std::size_t kDefaultProducerMaxPending = 20000;
inline constexpr std::chrono::milliseconds kDefaultProducerEnqueueTimeout{1000};
inline constexpr std::size_t kDefaultProducerFlushers = 2;

struct BatchingProducerSettings {
  /// Most jobs one flush writes. An Enqueue(batch) call larger than this is
  /// written alone in one flush (a call's jobs are never split).
  std::size_t max_batch = kDefaultProducerMaxBatch;
  /// Longest a job waits for more jobs to join its flush while another
  /// flush is being written. A flush starts earlier when max_batch jobs are
  /// pending, when no flush is being written (flush_when_idle), or on
  /// Flush()/Close().
  std::chrono::microseconds max_delay = kDefaultProducerMaxDelay;
  /// Group commit: when no flush is being written, pending jobs go at once
  /// instead of waiting max_delay for company; jobs that arrive while a
  /// flush is written gather for the next one. false: every flush waits
  /// for max_delay or max_batch (fewer, fuller statements at low load).
  bool flush_when_idle = true;
  /// Jobs that may wait for a flush (queued, not yet sent). Enqueue blocks
  /// while the producer is full, up to enqueue_timeout.
  std::size_t max_pending = kDefaultProducerMaxPending;
  /// How long Enqueue waits for room before throwing ProducerFullError
  /// (0 = throw at once).
  std::chrono::milliseconds enqueue_timeout = kDefaultProducerEnqueueTimeout;
  /// Flushes that may run at once, each on its own pooled connection: while
  /// one waits for its commit, another takes the jobs that have waited
  /// max_delay for it. Keep the pool's max_size at least this large.
  std::size_t flushers = kDefaultProducerFlushers;
  /// How a dedupe conflict is resolved; the outcome per job is the same
  /// either way (see BatchingProducer).
  OnConflict on_conflict = OnConflict::kSkip;
  bool operator==(const BatchingProducerSettings&) const = default;
};

/// Enqueue found the producer full for enqueue_timeout. Nothing was queued.
class ProducerFullError : public RuntimeError {
 public:
  explicit ProducerFullError(const std::string& what)
      : RuntimeError(what, {}, /*retryable=*/true) {}
};

/// The producer was closed: Enqueue after Close(), or a job still pending
/// when Close(kFail) ran. The job was not written.
class ProducerClosedError : public LogicError {
 public:
  using LogicError::LogicError;
};

/// What Close() does with jobs that are still pending.
enum class ProducerShutdown {
  kFlush,  ///< write them (ignoring max_delay), then stop
  kFail,   ///< fail their futures with ProducerClosedError, write nothing
};

/// Collects jobs from many threads and writes them with one enqueue
/// statement per flush on a pool's connections.
///
/// Each Enqueue returns a future per job. The future holds the job id once
/// the statement that wrote the job has committed, and holds an exception
/// otherwise:
/// - DuplicateJobError (with the job's key) when a live job, or an earlier
///   job of the same flush, already holds its dedupe key. Only that job
///   fails: with kSkip the flush's one statement skips it; with kRaise the
///   statement fails as a whole, and the producer fails the jobs whose keys
///   the error names and writes the others again with a new statement (up
///   to three statements per flush).
/// - the statement's error (a pgq::Error) for every job of the flush when
///   it fails for another reason. A ConnectionError during the commit leaves
///   the outcome unknown: the jobs may have been written.
/// - ProducerClosedError for jobs pending at Close(ProducerShutdown::kFail).
/// No job is dropped without its future saying so.
///
/// Entrypoint and headers are checked in Enqueue (LogicError, nothing
/// queued). The jobs of one Enqueue(batch) call travel in the same flush, in
/// order, so their ids ascend.
///
/// Thread safety: every method may be called from any thread at once.
/// Lifetime: the producer keeps the pool alive; the destructor runs
/// Close(ProducerShutdown::kFlush).
class BatchingProducer {
 public:
  /// Starts `settings.flushers` flusher threads. `observer` defaults to the
  /// pool's observer.
  BatchingProducer(std::shared_ptr<ConnectionPool> pool, DBSettings db_settings,
                   BatchingProducerSettings settings = {},
                   std::shared_ptr<Observer> observer = nullptr);
  ~BatchingProducer();
  BatchingProducer(const BatchingProducer&) = delete;
  BatchingProducer& operator=(const BatchingProducer&) = delete;

  /// Queues one job. Blocks while the producer is full (back-pressure);
  /// throws ProducerFullError after enqueue_timeout, ProducerClosedError
  /// after Close(), LogicError for an invalid job.
  std::future<JobId> Enqueue(NewJob job);
  /// Queues jobs that are written together in one flush; one future each,
  /// in input order. Same errors as Enqueue(job); all or none are queued.
  std::vector<std::future<JobId>> Enqueue(std::vector<NewJob> jobs);

  /// Starts flushing everything pending now, without waiting for max_delay.
  void Flush();
  /// Refuses new jobs, deals with pending ones as `mode` says, waits for the
  /// flushes in progress and stops the flusher threads. Idempotent.
  void Close(ProducerShutdown mode = ProducerShutdown::kFlush);

  /// Jobs queued and not yet handed to a flush.
  std::size_t Pending() const;
  const BatchingProducerSettings& settings() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace pgq
