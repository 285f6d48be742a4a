#pragma once
// The claim loop: claims whole batches while there is room, then sleeps as
// DecideWait says until a NOTIFY, a handler making room, Stop() or the
// timeout wakes it.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "pgq/observer.h"
#include "pgq/runtime.h"
#include "runtime/backoff.h"
#include "runtime/failure_log.h"
#include "runtime/in_flight_table.h"
#include "runtime/job_event_log.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class Dispatcher {
 public:
  struct Parts {
    InFlightTable& table;
    RuntimeStore& store;
    Observer& observer;
    const std::string& queue_manager_id;
    std::shared_ptr<spdlog::logger> log;
    JobEventLog& events;
  };
  explicit Dispatcher(Parts parts) : p_(std::move(parts)) {}

  /// Runs until Stop() or, in drain mode, until nothing is queued or in flight.
  void Run(const RunOptions& options, const std::vector<EntrypointLimit>& limits,
           const std::vector<std::string>& names);
  /// Start of the last loop iteration (for liveness).
  std::chrono::steady_clock::time_point last_loop() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_loop_.load()));
  }

 private:
  /// Claims greedily until a batch comes back short or there is no room.
  /// False when the claim statement failed.
  bool ClaimWhileRoom(const RunOptions& options, const std::vector<EntrypointLimit>& limits);

  Parts p_;
  Backoff backoff_;
  FailureLog failures_{"dequeue"};
  std::atomic<std::chrono::steady_clock::rep> last_loop_{
      std::chrono::steady_clock::now().time_since_epoch().count()};
};

}  // namespace pgq::detail
