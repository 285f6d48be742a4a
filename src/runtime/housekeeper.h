#pragma once
// The background thread's schedule: write completions (at once when a
// batch is full or urgent, else every 100 ms, backing off while writes
// fail), then heartbeats, statistics and log aggregation when each is due.
// While completions or heartbeats fail, both are retried on one jittered,
// capped backoff and the dispatcher claims nothing (InFlightTable).

#include <chrono>
#include <stop_token>

#include "runtime/completion_batcher.h"
#include "runtime/heartbeats.h"
#include "runtime/in_flight_table.h"
#include "runtime/statistics_maintainer.h"

namespace pgq::detail {

class Housekeeper {
 public:
  Housekeeper(CompletionBatcher& completions, Heartbeats& heartbeats,
              StatisticsMaintainer& statistics, InFlightTable& table)
      : completions_(completions),
        heartbeats_(heartbeats),
        statistics_(statistics),
        table_(table) {}

  void Loop(const std::stop_token& token, std::chrono::milliseconds heartbeat_timeout);

 private:
  CompletionBatcher& completions_;
  Heartbeats& heartbeats_;
  StatisticsMaintainer& statistics_;
  InFlightTable& table_;
};

}  // namespace pgq::detail
