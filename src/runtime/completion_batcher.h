#pragma once
// Buffers job outcomes and writes them in batches: each write is a
// notifying commit, which PostgreSQL serialises, so one per job would cap
// the fleet's throughput.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include <spdlog/spdlog.h>

#include "pgq/queries.h"
#include "runtime/failure_log.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class CompletionBatcher {
 public:
  CompletionBatcher(RuntimeStore& store, std::shared_ptr<spdlog::logger> log)
      : store_(store), log_(std::move(log)) {}

  /// Writes happen in batches of at least max(batch_size, 100) (or every
  /// 100 ms, see WaitForWork).
  void Configure(std::int64_t batch_size) { flush_at_ = std::max<std::int64_t>(batch_size, 100); }

  /// `urgent`: the job's entrypoint has a concurrency limit, and its slot
  /// stays taken (queue_manager_id set) until the completion is written, so
  /// write it now instead of within ~100 ms.
  void Add(Completion completion, bool urgent = false);
  /// Waits up to `timeout` for a full batch, an urgent completion or stop;
  /// `retrying` (the last write failed): only for `timeout` or stop, so a
  /// full buffer does not turn the backoff into a busy loop.
  void WaitForWork(const std::stop_token& token, std::chrono::milliseconds timeout,
                   bool retrying = false);
  /// Wakes WaitForWork (after requesting its stop).
  void Interrupt() { cv_.notify_all(); }
  /// Writes the buffer; on failure the completions go back to it.
  bool Flush();
  /// Completions written since the last call (for log aggregation).
  std::int64_t TakeWrittenCount() { return written_.exchange(0); }

 private:
  RuntimeStore& store_;
  std::shared_ptr<spdlog::logger> log_;
  std::int64_t flush_at_ = 100;
  std::mutex mu_;  // guards buffer_ and flush_now_
  std::condition_variable cv_;
  std::vector<Completion> buffer_;
  bool flush_now_ = false;  // a limited entrypoint's slot waits on this flush
  std::atomic<std::int64_t> written_{0};
  FailureLog failures_{"recording completions"};  // used by the flushing thread only
};

}  // namespace pgq::detail
