#include "pgq/driver.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <stop_token>
#include <thread>

#include <pqxx/notification>
#include <spdlog/spdlog.h>

#include "driver/pg_errors.h"
#include "pgq/error.h"
#include "pgq/pqxx.h"
#include "driver/session.h"
#include "sql/literals.h"

namespace pgq {

// ---------------------------------------------------------------- Rows

std::size_t Rows::Index(std::string_view column) const {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == column) return i;
  }
  throw LogicError("result has no column \"" + std::string(column) + "\"");
}

const std::string& Rows::Text(std::size_t row, std::string_view column) const {
  const auto& cell = At(row, column);
  if (!cell) throw LogicError("column \"" + std::string(column) + "\" is NULL");
  return *cell;
}

std::int64_t Rows::Int(std::size_t row, std::string_view column) const {
  return detail::ParseInt64(Text(row, column));
}

// ---------------------------------------------------------- requirements

void EnforceRequirements(const ConnectionState& state, const ConnectionRequirements& requirements,
                         std::string_view where) {
  if (state.in_transaction) {
    throw ConnectionStateError(
        ConnectionStateError::Kind::kInTransaction,
        std::string(where) +
            ": connection is inside a transaction block; the queue needs autocommit so that "
            "every claim and completion commits on its own (and row locks are not held)");
  }
  if (!state.isolation.empty() && state.isolation != requirements.isolation) {
    throw ConnectionStateError(
        ConnectionStateError::Kind::kIsolation,
        std::string(where) + ": transaction isolation is \"" + state.isolation +
            "\" but the queue requires \"" + requirements.isolation +
            "\"; FOR UPDATE SKIP LOCKED claims and the fleet-wide concurrency counts rely on "
            "it (check default_transaction_isolation for this database and role)");
  }
}

ConnectionOptions ConnectionOptions::FromDsn(std::string dsn) {
  ConnectionOptions options;
  options.conninfo = [dsn = std::move(dsn)] { return dsn; };
  return options;
}

std::string RedactConninfo(std::string_view conninfo) {
  const std::string text(conninfo);
  // Let libpq parse it (URIs with percent-encoding, backslash escapes,
  // quoting): what libpq would use as the password is what we must hide.
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options != nullptr) {
    bool has_password = false;
    std::string rebuilt;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      const std::string key(o->keyword);
      if (key == "password") has_password = true;
      std::string value = key == "password" ? "****" : o->val;
      std::string quoted = "'";
      for (char c : value) {
        if (c == '\\' || c == '\'') quoted.push_back('\\');
        quoted.push_back(c);
      }
      quoted.push_back('\'');
      if (!rebuilt.empty()) rebuilt.push_back(' ');
      rebuilt += key + "=" + quoted;
    }
    PQconninfoFree(options);
    return has_password ? rebuilt : text;
  }
  // Unparseable: best effort on the common spellings.
  std::string out = text;
  static const std::regex kUri(R"(^(postgres(?:ql)?://[^:/@]*:)([^@]*)(@))");
  out = std::regex_replace(out, kUri, "$1****$3");
  static const std::regex kPassword(R"((password\s*=\s*).*)", std::regex::icase);
  out = std::regex_replace(out, kPassword, "$1****");
  return out;
}

void Driver::Notify(std::string_view channel, std::string_view payload) {
  Fetch("SELECT pg_notify($1, $2)", {std::string(channel), std::string(payload)});
}

// ------------------------------------------------------ ConnectionDriver

struct ConnectionDriver::Impl : std::enable_shared_from_this<ConnectionDriver::Impl> {
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& connection, const std::string& channel, Impl* owner)
        : pqxx::notification_receiver(connection, channel), owner_(owner) {}
    void operator()(const std::string& payload, int backend_pid) override {
      owner_->Dispatch(channel(), payload, backend_pid);
    }

   private:
    Impl* owner_;
  };

  struct Callback {
    std::uint64_t id;
    NotificationCallback fn;
  };

  explicit Impl(ConnectionOptions opts) : options(std::move(opts)), borrowed(false) {}

  ConnectionOptions options;
  bool borrowed;

  std::mutex mu;  // guards session and receivers
  std::unique_ptr<detail::Session> session;
  std::map<std::string, std::unique_ptr<Receiver>> receivers;
  bool ever_connected = false;

  std::mutex callbacks_mu;  // guards callbacks and next_id
  std::map<std::string, std::vector<Callback>> callbacks;
  std::uint64_t next_id = 1;

  std::atomic<bool> listening{false};
  int wake_fd = -1;
  std::mutex pump_mu;
  std::jthread pump;

  ~Impl() {
    if (pump.joinable()) {
      pump.request_stop();
      Wake();
      pump.join();
    }
    if (wake_fd >= 0) ::close(wake_fd);
    std::scoped_lock lock(mu);
    receivers.clear();
  }

  void Wake() const {
    if (wake_fd >= 0) {
      const std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
    }
  }

  void Dispatch(const std::string& channel, const std::string& payload, int pid) {
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

  // Caller holds mu.
  detail::Session& EnsureSession() {
    if (session && session->IsOpen()) return *session;
    if (borrowed) throw ConnectionError("the borrowed connection is closed");
    receivers.clear();
    session.reset();
    listening = false;
    try {
      session = detail::Session::Open(options);
    } catch (const ConnectionStateError&) {
      if (options.observer) options.observer->OnConnectError("state");
      throw;
    } catch (const Error&) {
      if (options.observer) options.observer->OnConnectError("connect");
      throw;
    }
    if (ever_connected) {
      spdlog::info("reconnected to PostgreSQL");
      if (options.observer) options.observer->OnReconnect();
    }
    ever_connected = true;
    Relisten();
    return *session;
  }

  // Caller holds mu; (re-)creates a LISTEN for every channel with callbacks.
  void Relisten() {
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
          detail::RethrowAsPgq("LISTEN " + channel);
        }
      }
    }
    listening = !channels.empty();
  }

  // Caller holds mu. A statement failure that broke the connection drops the
  // session so the next call reconnects.
  template <typename F>
  auto WithSession(std::string_view where, F&& fn) {
    auto& s = EnsureSession();
    s.EnforceNoTransaction(where);
    try {
      auto result = fn(s);
      // A statement's reply may carry notifications that libpq has already
      // read off the socket; the pump thread would not see the socket become
      // readable for them, so deliver them here.
      if (!receivers.empty()) {
        try {
          s.connection().get_notifs();
        } catch (const std::exception&) {
          // A broken connection shows on the next statement or in the pump.
        }
      }
      return result;
    } catch (const Error& e) {
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

  void StartPump() {
    std::scoped_lock lock(pump_mu);
    if (pump.joinable()) return;
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pump = std::jthread([self = this](std::stop_token stop) { self->PumpLoop(stop); });
  }

  void PumpLoop(const std::stop_token& stop) {
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
      if (fd < 0 && ready == 0) backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
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

  void Unsubscribe(const std::string& channel, std::uint64_t id) {
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
};

namespace {

class ConnectionSubscription final : public Subscription {
 public:
  ConnectionSubscription(std::weak_ptr<ConnectionDriver::Impl> impl, std::string channel,
                         std::uint64_t id)
      : impl_(std::move(impl)), channel_(std::move(channel)), id_(id) {}
  ~ConnectionSubscription() override {
    if (auto impl = impl_.lock()) {
      try {
        impl->Unsubscribe(channel_, id_);
      } catch (const std::exception& e) {
        spdlog::warn("UNLISTEN {} failed: {}", channel_, e.what());
      }
    }
  }

 private:
  std::weak_ptr<ConnectionDriver::Impl> impl_;
  std::string channel_;
  std::uint64_t id_;
};

}  // namespace

ConnectionDriver::ConnectionDriver(ConnectionOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {
  std::scoped_lock lock(impl_->mu);
  impl_->EnsureSession();
}

ConnectionDriver::ConnectionDriver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ConnectionDriver::~ConnectionDriver() = default;

Rows ConnectionDriver::Fetch(std::string_view sql, const Params& params) {
  std::scoped_lock lock(impl_->mu);
  return impl_->WithSession("driver", [&](detail::Session& s) { return s.Fetch(sql, params); });
}

std::int64_t ConnectionDriver::Execute(std::string_view sql, const Params& params) {
  std::scoped_lock lock(impl_->mu);
  return impl_->WithSession("driver", [&](detail::Session& s) { return s.Execute(sql, params); });
}

std::unique_ptr<Subscription> ConnectionDriver::Listen(std::string_view channel_view,
                                                       NotificationCallback callback) {
  std::string channel(channel_view);
  std::uint64_t id = 0;
  {
    std::scoped_lock lock(impl_->callbacks_mu);
    id = impl_->next_id++;
    impl_->callbacks[channel].push_back({id, std::move(callback)});
  }
  auto subscription = std::make_unique<ConnectionSubscription>(impl_, channel, id);
  {
    std::scoped_lock lock(impl_->mu);
    impl_->WithSession("listen", [&](detail::Session&) {
      impl_->Relisten();
      return 0;
    });
  }
  impl_->StartPump();
  impl_->Wake();
  return subscription;
}

bool ConnectionDriver::ListenerHealthy() const { return impl_->listening.load(); }

ConnectionState ConnectionDriver::Inspect() {
  std::scoped_lock lock(impl_->mu);
  auto& s = impl_->EnsureSession();
  return s.Inspect();
}

std::unique_ptr<ConnectionDriver> BorrowConnection(pqxx::connection_base& connection,
                                                   ConnectionRequirements requirements) {
  ConnectionOptions options;
  options.requirements = requirements;
  options.on_connect_sql.clear();
  auto impl = std::make_shared<ConnectionDriver::Impl>(std::move(options));
  impl->borrowed = true;
  impl->session = detail::Session::Borrow(connection);
  impl->ever_connected = true;
  EnforceRequirements(impl->session->Inspect(), requirements, "borrowed connection");
  return std::make_unique<ConnectionDriver>(std::move(impl));
}

// ------------------------------------------------------------ SyncDriver

SyncDriver::SyncDriver(ConnectionOptions options)
    : connection_(std::make_unique<ConnectionDriver>(std::move(options))) {}
SyncDriver::~SyncDriver() = default;

Rows SyncDriver::Fetch(std::string_view sql, const Params& params) {
  return connection_->Fetch(sql, params);
}
std::int64_t SyncDriver::Execute(std::string_view sql, const Params& params) {
  return connection_->Execute(sql, params);
}

// ------------------------------------------------- TransactionExecutor

Rows TransactionExecutor::Fetch(std::string_view sql, const Params& params) {
  try {
    std::vector<const char*> pointers;
    for (const auto& p : params) pointers.push_back(p ? p->c_str() : nullptr);
    return detail::ToRows(
        tx_.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers)));
  } catch (...) {
    detail::RethrowAsPgq({});
  }
}

std::int64_t TransactionExecutor::Execute(std::string_view sql, const Params& params) {
  try {
    std::vector<const char*> pointers;
    for (const auto& p : params) pointers.push_back(p ? p->c_str() : nullptr);
    return tx_.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers))
        .affected_rows();
  } catch (...) {
    detail::RethrowAsPgq({});
  }
}

}  // namespace pgq
