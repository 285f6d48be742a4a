#pragma once
// Whether notifications still reach this worker: a self-addressed
// health_check_event round trip every health_check_interval (at once after a
// reconnect), the age of the last event of any kind, and how often the
// LISTEN connection came back.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "pgq/observer.h"
#include "pgq/runtime.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

class ListenerHealth {
 public:
  struct Timing {
    std::chrono::milliseconds interval{10000};
    std::chrono::milliseconds timeout{5000};
  };

  /// `on_maybe_lost` runs (on the health thread) when a check did not come
  /// back: a notification may have been lost with it.
  ListenerHealth(RuntimeStore& store, std::string channel, std::shared_ptr<Observer> observer,
                 std::function<void()> on_maybe_lost)
      : store_(store),
        channel_(std::move(channel)),
        observer_(std::move(observer)),
        on_maybe_lost_(std::move(on_maybe_lost)) {}

  /// After LISTEN: remembers whether the listener is up, to count reconnects.
  void Start();
  /// Any notification arrived.
  void OnEvent();
  /// A health_check_event with this id arrived.
  void OnHealthCheck(const std::string& id);
  /// The LISTEN connection is back (a driver callback): counts it while
  /// `running` and starts the next check at once.
  void OnReconnect(bool running);
  /// The round-trip loop of the health thread; `running` gates the
  /// reconnect count.
  void Loop(const std::stop_token& token, Timing timing, const std::atomic<bool>& running);
  /// Wakes Loop (after requesting its stop).
  void Interrupt() { cv_.notify_all(); }
  /// Fills the listener fields of `health`.
  void Fill(RuntimeHealth& health) const;

 private:
  /// One round trip; true when it came back. Empty `problem` and false: a
  /// reconnect cut it short and the next one starts at once.
  bool Check(const std::stop_token& token, std::chrono::milliseconds timeout,
             std::string& problem);
  /// Waits until the next check is due, reporting a listener that drops in
  /// between within a fraction of a second.
  void WaitForNext(const std::stop_token& token, std::chrono::milliseconds interval);
  void Report(bool up, std::string problem);

  RuntimeStore& store_;
  const std::string channel_;
  std::shared_ptr<Observer> observer_;
  std::function<void()> on_maybe_lost_;
  // Guards everything below. Notification callbacks take it under the
  // driver's own locks, so never ask the driver while holding it.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point last_event_ = std::chrono::steady_clock::now();
  std::string pending_id_;
  bool received_ = false;
  bool check_now_ = false;
  // A check in progress since check_started_ (its NOTIFY may hang on a
  // partitioned connection, so Fill judges its age itself).
  bool checking_ = false;
  std::chrono::steady_clock::time_point check_started_;
  std::chrono::milliseconds timeout_{5000};
  bool reported_up_ = false;
  std::string problem_;
  bool was_listening_ = false;
  std::int64_t reconnects_ = 0;
};

}  // namespace pgq::detail
