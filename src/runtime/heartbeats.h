#pragma once
// Keeps this worker's claims alive: peers take a job over once its
// heartbeat is older than heartbeat_timeout, so every claimed job is
// touched about four times per timeout.

#include <chrono>
#include <memory>

#include <spdlog/spdlog.h>

#include "runtime/failure_log.h"
#include "runtime/in_flight_table.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class Heartbeats {
 public:
  Heartbeats(RuntimeStore& store, const InFlightTable& table, std::shared_ptr<spdlog::logger> log)
      : store_(store), table_(table), log_(std::move(log)) {}

  /// Starts the schedule from `now`.
  void Start(std::chrono::milliseconds heartbeat_timeout,
             std::chrono::steady_clock::time_point now);
  /// Sends one heartbeat for every claimed job when due. False when it was
  /// due and failed (it is then tried again on the next call).
  bool Tick(std::chrono::steady_clock::time_point now);

 private:
  RuntimeStore& store_;
  const InFlightTable& table_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds every_{50};
  std::chrono::steady_clock::time_point next_;
  FailureLog failures_{"heartbeat"};
};

}  // namespace pgq::detail
