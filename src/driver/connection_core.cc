#include "driver/connection_core.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "driver/pg_errors.h"

namespace pgq::detail {

ConnectionCore::~ConnectionCore() {
  if (pump.joinable()) {
    pump.request_stop();
    Wake();
    pump.join();
  }
  if (wake_fd >= 0) ::close(wake_fd);
  std::scoped_lock lock(mu);
  receivers.clear();
}

void ConnectionCore::Wake() const {
  if (wake_fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
}

void ConnectionCore::Dispatch(const std::string& channel, const std::string& payload, int pid) {
  std::vector<NotificationCallback> targets;
  {
    std::scoped_lock lock(callbacks_mu);
    auto it = callbacks.find(channel);
    if (it == callbacks.end()) return;
    for (const auto& cb : it->second) targets.push_back(cb.fn);
  }
  const Notification notification{channel, payload, pid};
  for (const auto& fn : targets) {
    try {
      fn(notification);
    } catch (const std::exception& e) {
      spdlog::error("notification callback for channel {} failed: {}", channel, e.what());
    }
  }
}

void ConnectionCore::DispatchReconnect() {
  std::vector<ReconnectCallback> targets;
  {
    std::scoped_lock lock(callbacks_mu);
    for (const auto& [channel, cbs] : callbacks) {
      for (const auto& cb : cbs) {
        if (cb.on_reconnect) targets.push_back(cb.on_reconnect);
      }
    }
  }
  for (const auto& fn : targets) {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("reconnect callback failed: {}", e.what());
    }
  }
}

Session& ConnectionCore::EnsureSession() {
  if (session && session->IsOpen()) return *session;
  if (borrowed) throw ConnectionError("the borrowed connection is closed");
  receivers.clear();
  session.reset();
  listening = false;
  try {
    session = Session::Open(options);
  } catch (const ConnectionStateError&) {
    if (options.observer) options.observer->OnConnectError("state");
    throw;
  } catch (const ReadOnlyError&) {
    if (options.observer) options.observer->OnConnectError("read_only");
    throw;
  } catch (const Error&) {
    if (options.observer) options.observer->OnConnectError("connect");
    throw;
  }
  const bool reconnect = ever_connected;
  if (reconnect) {
    spdlog::info("reconnected to PostgreSQL");
    if (options.observer) options.observer->OnReconnect();
  }
  ever_connected = true;
  try {
    Relisten();
  } catch (...) {
    // Without its LISTENs this session would look healthy to the next call
    // yet hear nothing: drop it so the next call starts over.
    receivers.clear();
    session.reset();
    listening = false;
    throw;
  }
  // Anything sent while no LISTEN was in place is lost: tell the listeners,
  // now that a new notification would reach them again.
  if (reconnect && listening) DispatchReconnect();
  return *session;
}

void ConnectionCore::Relisten() {
  std::vector<std::string> channels;
  {
    std::scoped_lock lock(callbacks_mu);
    for (const auto& [channel, cbs] : callbacks) {
      if (!cbs.empty()) channels.push_back(channel);
    }
  }
  for (const auto& channel : channels) {
    if (!receivers.contains(channel)) {
      try {
        receivers.emplace(channel,
                          std::make_unique<Receiver>(session->connection(), channel, this));
      } catch (...) {
        RethrowAsPgq("LISTEN " + channel);
      }
    }
  }
  listening = !channels.empty();
}

void ConnectionCore::DeliverPending(Session& s) {
  if (receivers.empty()) return;
  try {
    s.connection().get_notifs();
  } catch (const std::exception&) {
    // A broken connection shows on the next statement or in the pump.
  }
}

void ConnectionCore::StartPump() {
  std::scoped_lock lock(pump_mu);
  if (pump.joinable()) return;
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pump = std::jthread([self = this](std::stop_token stop) { self->PumpLoop(stop); });
}

void ConnectionCore::PumpLoop(const std::stop_token& stop) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.stop_requested()) {
    int fd = -1;
    {
      std::unique_lock lock(mu);
      try {
        bool wanted = false;
        {
          std::scoped_lock cl(callbacks_mu);
          for (const auto& [c, cbs] : callbacks) wanted = wanted || !cbs.empty();
        }
        if (wanted) {
          EnsureSession();
          fd = session->Socket();
          backoff = std::chrono::milliseconds(100);
        }
      } catch (const std::exception& e) {
        listening = false;
        spdlog::warn("listener connection unavailable, retrying in {} ms: {}", backoff.count(),
                     e.what());
      }
    }
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    const int timeout_ms = fd >= 0 ? 1000 : static_cast<int>(backoff.count());
    const int ready = ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    // Capped at a second: one connection attempt per second while the server
    // is away costs little, and the listener is back within a second of it.
    if (fd < 0 && ready == 0) backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      std::uint64_t drained = 0;
      [[maybe_unused]] auto n = ::read(wake_fd, &drained, sizeof drained);
    }
    if (fd >= 0 && ready > 0 && fds[1].revents != 0) {
      std::scoped_lock lock(mu);
      if (!session) continue;
      try {
        session->connection().get_notifs();
      } catch (const std::exception& e) {
        spdlog::warn("listener connection lost: {}", e.what());
        listening = false;
        if (!borrowed) {
          receivers.clear();
          session.reset();
        }
      }
      if (session && !session->IsOpen()) {
        listening = false;
        if (!borrowed) {
          receivers.clear();
          session.reset();
        }
      }
    }
  }
}

void ConnectionCore::Unsubscribe(const std::string& channel, std::uint64_t id) {
  bool last = false;
  {
    std::scoped_lock lock(callbacks_mu);
    auto& cbs = callbacks[channel];
    std::erase_if(cbs, [id](const Callback& cb) { return cb.id == id; });
    last = cbs.empty();
  }
  if (last) {
    std::scoped_lock lock(mu);
    receivers.erase(channel);  // UNLISTEN (best effort on a live connection)
    if (receivers.empty()) listening = false;
  }
}

}  // namespace pgq::detail
