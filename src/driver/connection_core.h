#pragma once
// The state behind a ConnectionDriver: one session (owned and re-opened on
// failure, or borrowed from the caller), its LISTEN registrations, and the
// pump thread that waits on the socket and hands notifications to callbacks.
// Internal: the public header only names it through a pointer.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pqxx/notification>

#include "driver/session.h"
#include "pgq/driver.h"
#include "pgq/error.h"

namespace pgq::detail {

class ConnectionCore : public std::enable_shared_from_this<ConnectionCore> {
 public:
  /// One libpqxx LISTEN on `channel`; forwards to the owner's callbacks.
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& connection, const std::string& channel, ConnectionCore* owner)
        : pqxx::notification_receiver(connection, channel), owner_(owner) {}
    void operator()(const std::string& payload, int backend_pid) override {
      owner_->Dispatch(channel(), payload, backend_pid);
    }

   private:
    ConnectionCore* owner_;
  };

  struct Callback {
    std::uint64_t id;
    NotificationCallback fn;
    ReconnectCallback on_reconnect;
  };

  explicit ConnectionCore(ConnectionOptions opts) : options(std::move(opts)), borrowed(false) {}
  ~ConnectionCore();
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  ConnectionOptions options;
  bool borrowed;

  std::mutex mu;  // guards session and receivers
  std::unique_ptr<Session> session;
  std::map<std::string, std::unique_ptr<Receiver>> receivers;
  bool ever_connected = false;

  std::mutex callbacks_mu;  // guards callbacks and next_id
  std::map<std::string, std::vector<Callback>> callbacks;
  std::uint64_t next_id = 1;

  std::atomic<bool> listening{false};
  int wake_fd = -1;
  std::mutex pump_mu;
  std::jthread pump;

  void Wake() const;
  void Dispatch(const std::string& channel, const std::string& payload, int pid);
  // Caller holds mu: every LISTEN is in place again on a new connection.
  void DispatchReconnect();
  // Caller holds mu.
  Session& EnsureSession();
  // Caller holds mu; (re-)creates a LISTEN for every channel with callbacks.
  void Relisten();

  // Caller holds mu. A statement failure that broke the connection drops the
  // session so the next call reconnects.
  template <typename F>
  auto WithSession(std::string_view where, F&& fn) {
    auto& s = EnsureSession();
    s.EnforceNoTransaction(where);
    try {
      auto result = fn(s);
      DeliverPending(s);
      return result;
    } catch (const Error& e) {
      if (options.observer && dynamic_cast<const ReadOnlyError*>(&e) != nullptr) {
        options.observer->OnConnectError("read_only");
      }
      if (!s.IsOpen() || e.PoisonsConnection()) {
        if (!borrowed) {
          receivers.clear();
          session.reset();
        }
        listening = false;
        Wake();
      }
      throw;
    }
  }

  void StartPump();
  void PumpLoop(const std::stop_token& stop);
  void Unsubscribe(const std::string& channel, std::uint64_t id);

 private:
  // Caller holds mu. A statement's reply may carry notifications that libpq
  // has already read off the socket; the pump thread would not see the socket
  // become readable for them, so they are delivered here.
  void DeliverPending(Session& s);
};

/// The one way to build a ConnectionDriver around an existing core
/// (BorrowConnection in pgq/pqxx.h); a friend of ConnectionDriver.
class ConnectionDriverGate {
 public:
  static std::unique_ptr<ConnectionDriver> Wrap(std::shared_ptr<ConnectionCore> core);
};

}  // namespace pgq::detail
