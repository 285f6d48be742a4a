#include "run/signal_watcher.h"

#include <pthread.h>
#include <unistd.h>

#include <utility>

#include <spdlog/spdlog.h>

namespace pgq::worker {

SignalWatcher::SignalWatcher(RunState& state, std::function<void()> drain)
    : state_(state), drain_(std::move(drain)) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  thread_ = std::jthread([this](std::stop_token token) { Wait(token); });
}

SignalWatcher::~SignalWatcher() {
  thread_.request_stop();
  pthread_kill(thread_.native_handle(), SIGTERM);
}

void SignalWatcher::Wait(const std::stop_token& token) {
  int received = 0;
  while (!token.stop_requested()) {
    if (sigwait(&signals_, &received) != 0) continue;
    if (token.stop_requested()) return;
    if (!state_.BeginDrain()) {
      spdlog::warn("second signal {}: exiting now", received);
      spdlog::shutdown();
      _exit(1);
    }
    spdlog::info("signal {}: draining (not ready, no new claims, finishing in-flight jobs)",
                 received);
    drain_();
  }
}

}  // namespace pgq::worker
