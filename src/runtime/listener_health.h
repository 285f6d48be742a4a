#pragma once
// Whether notifications still reach this worker: a self-addressed
// health_check_event round trip every health_check_interval, the age of the
// last event of any kind, and how often the LISTEN connection came back.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
  ListenerHealth(RuntimeStore& store, std::string channel, std::shared_ptr<Observer> observer)
      : store_(store), channel_(std::move(channel)), observer_(std::move(observer)) {}

  /// After LISTEN: remembers whether the listener is up, to count reconnects.
  void Start();
  /// Any notification arrived.
  void OnEvent();
  /// A health_check_event with this id arrived.
  void OnHealthCheck(const std::string& id);
  /// The round-trip loop of the health thread; `running` gates the
  /// reconnect count.
  void Loop(const std::stop_token& token, std::chrono::milliseconds interval,
            const std::atomic<bool>& running);
  /// Wakes Loop (after requesting its stop).
  void Interrupt() { cv_.notify_all(); }
  /// Fills the listener fields of `health`.
  void Fill(RuntimeHealth& health) const;

 private:
  RuntimeStore& store_;
  const std::string channel_;
  std::shared_ptr<Observer> observer_;
  // Guards everything below. Notification callbacks take it under the
  // driver's own locks, so never ask the driver while holding it.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point last_event_ = std::chrono::steady_clock::now();
  std::string pending_id_;
  bool received_ = false;
  std::string problem_;
  bool was_listening_ = false;
  std::int64_t reconnects_ = 0;
};

}  // namespace pgq::detail
