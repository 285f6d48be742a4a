#pragma once
// Runs claimed jobs on the handler threads and records each outcome:
// completion (successful / canceled), a retry with its TracebackRecord, or
// a final failure (held or deleted).

#include <memory>
#include <stop_token>
#include <string>

#include <spdlog/spdlog.h>

#include "pgq/observer.h"
#include "pgq/runtime.h"
#include "runtime/completion_batcher.h"
#include "runtime/entrypoint_registry.h"
#include "runtime/in_flight_table.h"
#include "runtime/job_event_log.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class JobRunner {
 public:
  struct Parts {
    const EntrypointRegistry& entrypoints;
    InFlightTable& table;
    CompletionBatcher& completions;
    RuntimeStore& store;
    Observer& observer;
    Resources& resources;
    const std::string& queue_manager_id;
    std::shared_ptr<spdlog::logger> log;
    JobEventLog& events;
  };
  explicit JobRunner(Parts parts) : p_(std::move(parts)) {}

  /// One handler thread: runs jobs until the table closes and empties.
  void Serve();
  /// Runs the handler and records its outcome; true when the job went back
  /// to the queue for a retry.
  bool Execute(const Job& job, const std::stop_token& cancel);

 private:
  bool Retry(const Job& job, std::chrono::microseconds delay, const std::string& type,
             const std::string& message, const std::string& trace, const std::string& reason);

  Parts p_;
};

}  // namespace pgq::detail
