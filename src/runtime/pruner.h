#pragma once
// The worker's share of retention: on its own thread (a run may take its
// whole time budget, which must not delay completions or heartbeats), every
// prune interval it tries one prune run. The fleet prunes one worker at a
// time (the run's batches take a fleet-wide advisory lock and skip when it is
// held); a run that spent its budget with work left is followed by the next
// one after a pause as long as the run, so a backlog drains at no more than
// half of one connection's time.

#include <chrono>
#include <memory>
#include <random>
#include <stop_token>

#include <spdlog/spdlog.h>

#include "pgq/observer.h"
#include "pgq/retention.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class Pruner {
 public:
  Pruner(RuntimeStore& store, Observer& observer, std::shared_ptr<spdlog::logger> log)
      : store_(store), observer_(observer), log_(std::move(log)) {}

  /// Runs until `token` is stopped. Does nothing when the policy prunes
  /// nothing or the interval is 0.
  void Loop(const std::stop_token& token, const RetentionPolicy& policy,
            std::chrono::milliseconds interval);

  /// One run: reports it to the observer and the log. Returns the pause
  /// before the next run. Never throws.
  std::chrono::milliseconds RunOnce(const RetentionPolicy& policy,
                                    std::chrono::milliseconds interval);

 private:
  std::chrono::milliseconds Jittered(std::chrono::milliseconds interval);

  RuntimeStore& store_;
  Observer& observer_;
  std::shared_ptr<spdlog::logger> log_;
  bool failing_ = false;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace pgq::detail
