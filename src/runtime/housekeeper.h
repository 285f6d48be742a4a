#pragma once
// The background thread's schedule: write completions (at once when a
// batch is full or urgent, else every 100 ms, backing off while writes
// fail), then heartbeats, statistics and log aggregation when each is due.

#include <chrono>
#include <stop_token>

#include "runtime/completion_batcher.h"
#include "runtime/heartbeats.h"
#include "runtime/statistics_maintainer.h"

namespace pgq::detail {

class Housekeeper {
 public:
  Housekeeper(CompletionBatcher& completions, Heartbeats& heartbeats,
              StatisticsMaintainer& statistics)
      : completions_(completions), heartbeats_(heartbeats), statistics_(statistics) {}

  void Loop(const std::stop_token& token, std::chrono::milliseconds heartbeat_timeout);

 private:
  CompletionBatcher& completions_;
  Heartbeats& heartbeats_;
  StatisticsMaintainer& statistics_;
};

}  // namespace pgq::detail
