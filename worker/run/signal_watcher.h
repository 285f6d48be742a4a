#pragma once
// SIGTERM and SIGINT for `pgq run`: waited for on a thread of its own, so
// that what a signal triggers runs in normal context (locks, logging).

#include <csignal>
#include <functional>
#include <thread>

#include "run/run_state.h"

namespace pgq::worker {

/// Blocks SIGTERM and SIGINT in the constructing thread (threads started
/// afterwards inherit the mask, so construct it first) and waits for them.
/// The first signal marks `state` draining and calls `drain`; a second one
/// exits the process at once with status 1.
class SignalWatcher {
 public:
  SignalWatcher(RunState& state, std::function<void()> drain);
  /// Ends the waiting thread (a signal to itself wakes sigwait).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void Wait(const std::stop_token& token);

  RunState& state_;
  std::function<void()> drain_;
  sigset_t signals_{};
  std::jthread thread_;  // last: started once the rest exists
};

}  // namespace pgq::worker
