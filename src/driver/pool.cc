#include "pgq/pool.h"

#include <array>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "driver/pool_state.h"
#include "driver/session.h"
#include "pgq/error.h"

namespace pgq {

using SteadyClock = std::chrono::steady_clock;

namespace {
// One row per CloseReason: the metric label the observer reports.
constexpr std::array<std::pair<CloseReason, std::string_view>, 5> kCloseReasonNames{{
    {CloseReason::kMaxLifetime, "max_lifetime"},
    {CloseReason::kBroken, "broken"},
    {CloseReason::kStateViolation, "state_violation"},
    {CloseReason::kShutdown, "shutdown"},
    {CloseReason::kIdleCheckFailed, "idle_check_failed"},
}};

class NullObserver final : public Observer {};
}  // namespace

std::string_view ToString(CloseReason reason) noexcept {
  for (const auto& [value, name] : kCloseReasonNames) {
    if (value == reason) return name;
  }
  return "unknown";
}

// ------------------------------------------------------------------ Lease

Lease::Lease(std::shared_ptr<ConnectionPool> pool, detail::PooledConnection* slot)
    : pool_(std::move(pool)), slot_(slot) {}

Lease::Lease(Lease&& other) noexcept
    : pool_(std::move(other.pool_)), slot_(std::exchange(other.slot_, nullptr)) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::move(other.pool_);
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

Lease::~Lease() { Release(); }

void Lease::Release() noexcept {
  if (slot_ != nullptr) {
    pool_->Return(std::exchange(slot_, nullptr));
    pool_.reset();
  }
}

Rows Lease::Fetch(std::string_view sql, const Params& params) {
  if (!slot_) throw LogicError("Fetch on an empty lease");
  slot_->session->EnforceNoTransaction("pooled connection");
  try {
    return slot_->session->Fetch(sql, params);
  } catch (const Error& e) {
    OnError(e);
    throw;
  }
}

std::int64_t Lease::Execute(std::string_view sql, const Params& params) {
  if (!slot_) throw LogicError("Execute on an empty lease");
  slot_->session->EnforceNoTransaction("pooled connection");
  try {
    return slot_->session->Execute(sql, params);
  } catch (const Error& e) {
    OnError(e);
    throw;
  }
}

void Lease::OnError(const Error& e) noexcept {
  if (dynamic_cast<const ReadOnlyError*>(&e) != nullptr) {
    pool_->observer().OnConnectError("read_only");
  }
  if (e.PoisonsConnection()) {
    // Never used again, even if libpq still calls it open (a read-only
    // server, an admin shutdown in progress).
    slot_->poisoned = true;
  } else {
    // Usable as far as we know; Return() checks it with one round trip.
    slot_->errored = true;
  }
  // One broken or read-only connection usually means a restart or a
  // failover: the idle ones went to the same server.
  if (dynamic_cast<const ConnectionError*>(&e) != nullptr) pool_->DropIdle();
}

pqxx::connection_base& Lease::connection() {
  if (!slot_) throw LogicError("connection() on an empty lease");
  slot_->exposed = true;
  return slot_->session->connection();
}

// ---------------------------------------------------------- ConnectionPool

std::shared_ptr<ConnectionPool> ConnectionPool::Create(ConnectionOptions options,
                                                       PoolSettings settings,
                                                       std::shared_ptr<Observer> observer) {
  if (settings.max_size == 0) throw LogicError("pool max_size must be at least 1");
  if (settings.min_size > settings.max_size) {
    throw LogicError("pool min_size (" + std::to_string(settings.min_size) +
                     ") is larger than max_size (" + std::to_string(settings.max_size) + ")");
  }
  std::shared_ptr<ConnectionPool> pool(
      new ConnectionPool(std::move(options), settings, std::move(observer)));
  // Open min_size connections up front so that a bad DSN or a database at
  // the wrong isolation fails at start-up, not at the first job.
  std::vector<Lease> warm;
  for (std::size_t i = 0; i < settings.min_size; ++i) warm.push_back(pool->Acquire());
  return pool;
}

ConnectionPool::ConnectionPool(ConnectionOptions options, PoolSettings settings,
                               std::shared_ptr<Observer> observer)
    : options_(std::move(options)),
      settings_(settings),
      observer_(observer ? std::move(observer) : std::make_shared<NullObserver>()),
      state_(std::make_unique<detail::PoolState>()) {}

ConnectionPool::~ConnectionPool() { Close(); }

Lease ConnectionPool::Acquire() {
  const auto start = SteadyClock::now();
  const auto deadline = start + settings_.acquire_timeout;
  std::unique_lock lock(state_->mu);
  if (state_->closed) throw LogicError("connection pool is closed");
  ++state_->pending;
  for (;;) {
    if (!state_->idle.empty()) {
      auto slot = std::move(state_->idle.back());
      state_->idle.pop_back();
      ++state_->active;
      lock.unlock();
      // Local checks only (no round trip): libpq's connection and
      // transaction status. Isolation was checked when the connection was
      // opened and on every return of an exposed lease.
      CloseReason reason{};
      bool bad = false;
      if (!slot->session->IsOpen()) {
        bad = true;
        reason = CloseReason::kBroken;
      } else if (slot->session->InTransactionBlock()) {
        bad = true;
        reason = CloseReason::kStateViolation;
        observer_->OnStateViolation(true, false);
      } else if (settings_.max_lifetime.count() > 0 &&
                 SteadyClock::now() - slot->session->created() > settings_.max_lifetime) {
        bad = true;
        reason = CloseReason::kMaxLifetime;
      }
      lock.lock();
      if (bad) {
        --state_->active;
        --state_->total;
        lock.unlock();
        slot.reset();
        observer_->OnConnectionClosed(reason);
        lock.lock();
        continue;
      }
      --state_->pending;
      lock.unlock();
      slot->leased_at = SteadyClock::now();
      slot->exposed = false;
      slot->errored = false;
      observer_->OnAcquire(slot->leased_at - start);
      return Lease(shared_from_this(), slot.release());
    }
    if (state_->total + state_->reserved < settings_.max_size) {
      ++state_->total;
      ++state_->active;
      --state_->pending;
      lock.unlock();
      auto slot = std::make_unique<detail::PooledConnection>();
      try {
        slot->session = detail::Session::Open(options_);
      } catch (const ConnectionStateError& e) {
        observer_->OnStateViolation(e.kind() == ConnectionStateError::Kind::kInTransaction,
                                    e.kind() == ConnectionStateError::Kind::kIsolation);
        RecordViolation(e.kind(), e.what());
        std::scoped_lock relock(state_->mu);
        --state_->total;
        --state_->active;
        state_->cv.notify_one();
        throw;
      } catch (const std::exception& e) {
        observer_->OnConnectError(dynamic_cast<const ReadOnlyError*>(&e) ? "read_only"
                                                                          : "connect");
        std::scoped_lock relock(state_->mu);
        --state_->total;
        --state_->active;
        state_->cv.notify_one();
        throw;
      }
      observer_->OnConnectionCreated();
      slot->leased_at = SteadyClock::now();
      slot->last_checked = slot->leased_at;
      observer_->OnAcquire(slot->leased_at - start);
      return Lease(shared_from_this(), slot.release());
    }
    if (state_->cv.wait_until(lock, deadline) == std::cv_status::timeout &&
        state_->idle.empty() && state_->total + state_->reserved >= settings_.max_size) {
      --state_->pending;
      lock.unlock();
      observer_->OnAcquireTimeout();
      throw PoolTimeoutError("no pooled connection became free within " +
                             std::to_string(settings_.acquire_timeout.count()) +
                             " ms (max_size " + std::to_string(settings_.max_size) + ")");
    }
    if (state_->closed) {
      --state_->pending;
      throw LogicError("connection pool is closed");
    }
  }
}

void ConnectionPool::Return(detail::PooledConnection* raw) noexcept {
  std::unique_ptr<detail::PooledConnection> slot(raw);
  const auto now = SteadyClock::now();
  observer_->OnRelease(now - slot->leased_at);
  std::optional<CloseReason> reason;
  try {
    if (slot->poisoned || !slot->session->IsOpen()) {
      reason = CloseReason::kBroken;
    } else if (slot->session->InTransactionBlock()) {
      reason = CloseReason::kStateViolation;
      observer_->OnStateViolation(true, false);
      RecordViolation(
          ConnectionStateError::Kind::kInTransaction,
          "a pooled connection came back inside a transaction block (autocommit violated); it "
          "was discarded, which rolled the transaction back");
      spdlog::warn(
          "a pooled connection came back inside a transaction block; it was discarded "
          "(the open transaction is rolled back by closing the connection)");
    } else if (slot->exposed || slot->errored) {
      // User code had the raw connection: it may have changed the session.
      // After a statement failed, the server may have become read-only
      // (a failover behind the same address) without breaking the session.
      const auto state = slot->session->Inspect();
      try {
        EnforceRequirements(state, options_.requirements, "returned connection");
      } catch (const ConnectionStateError& e) {
        reason = CloseReason::kStateViolation;
        observer_->OnStateViolation(false, true);
        RecordViolation(e.kind(), std::string(e.what()) + "; the connection was discarded");
        spdlog::warn("{}; the connection was discarded", e.what());
      }
    }
    if (!reason && settings_.max_lifetime.count() > 0 &&
        now - slot->session->created() > settings_.max_lifetime) {
      reason = CloseReason::kMaxLifetime;
    }
  } catch (const std::exception& e) {
    if (dynamic_cast<const ReadOnlyError*>(&e) != nullptr) observer_->OnConnectError("read_only");
    reason = CloseReason::kBroken;
  }
  std::unique_lock lock(state_->mu);
  --state_->active;
  if (reason || state_->closed) {
    --state_->total;
    state_->cv.notify_one();
    lock.unlock();
    slot.reset();
    observer_->OnConnectionClosed(reason.value_or(CloseReason::kShutdown));
    return;
  }
  state_->idle.push_back(std::move(slot));
  state_->cv.notify_one();
}

void ConnectionPool::RecordViolation(ConnectionStateError::Kind kind, std::string what) noexcept {
  try {
    std::scoped_lock lock(state_->mu);
    state_->last_violation = Violation{SteadyClock::now(), kind, std::move(what)};
  } catch (...) {
  }
}

std::optional<ConnectionPool::Violation> ConnectionPool::LastViolation() const {
  std::scoped_lock lock(state_->mu);
  return state_->last_violation;
}

PoolStats ConnectionPool::Stats() const {
  std::scoped_lock lock(state_->mu);
  PoolStats stats;
  stats.active = state_->active;
  stats.idle = state_->idle.size();
  stats.pending = state_->pending;
  stats.min_size = settings_.min_size;
  stats.max_size = settings_.max_size;
  return stats;
}

std::vector<ConnectionCheck> ConnectionPool::CheckIdle() {
  std::vector<std::unique_ptr<detail::PooledConnection>> slots;
  {
    std::scoped_lock lock(state_->mu);
    slots.swap(state_->idle);
    state_->active += slots.size();  // checked-out for the duration of the check
  }
  std::vector<ConnectionCheck> report;
  std::vector<std::unique_ptr<detail::PooledConnection>> good;
  std::size_t closed = 0;
  for (auto& slot : slots) {
    ConnectionCheck check;
    std::optional<CloseReason> reason;
    try {
      if (!slot->session->IsOpen()) throw ConnectionError("connection is closed");
      EnforceRequirements(slot->session->Inspect(), options_.requirements, "idle connection");
      check.ok = true;
    } catch (const ConnectionStateError& e) {
      check.reason = e.what();
      check.violated = e.kind();
      reason = CloseReason::kStateViolation;
      observer_->OnStateViolation(e.kind() == ConnectionStateError::Kind::kInTransaction,
                                  e.kind() == ConnectionStateError::Kind::kIsolation);
    } catch (const ReadOnlyError& e) {
      check.reason = e.what();
      reason = CloseReason::kIdleCheckFailed;
      observer_->OnConnectError("read_only");
    } catch (const std::exception& e) {
      check.reason = std::string("idle connection failed its health check: ") + e.what();
      reason = CloseReason::kIdleCheckFailed;
    }
    report.push_back(check);
    if (reason) {
      slot.reset();
      ++closed;
      observer_->OnConnectionClosed(*reason);
    } else {
      slot->last_checked = SteadyClock::now();
      good.push_back(std::move(slot));
    }
  }
  {
    std::scoped_lock lock(state_->mu);
    state_->active -= slots.size();
    state_->total -= closed;
    for (auto& slot : good) state_->idle.push_back(std::move(slot));
    state_->cv.notify_all();
  }
  // Top up to min_size; failures surface through the next Acquire.
  try {
    std::vector<Lease> warm;
    while (true) {
      {
        std::scoped_lock lock(state_->mu);
        if (state_->closed || state_->total >= settings_.min_size) break;
      }
      warm.push_back(Acquire());
    }
  } catch (const std::exception& e) {
    report.push_back({false, std::string("cannot open a connection: ") + e.what()});
  }
  return report;
}

void ConnectionPool::DropIdle() noexcept {
  // One broken connection usually means a server restart or failover: the
  // idle ones are dead too, and finding out one statement at a time would
  // fail that many calls.
  std::vector<std::unique_ptr<detail::PooledConnection>> idle;
  {
    std::scoped_lock lock(state_->mu);
    idle.swap(state_->idle);
    state_->total -= idle.size();
    state_->cv.notify_all();
  }
  for (auto& slot : idle) {
    slot.reset();
    observer_->OnConnectionClosed(CloseReason::kBroken);
  }
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<detail::PooledConnection>> idle;
  {
    std::scoped_lock lock(state_->mu);
    state_->closed = true;
    idle.swap(state_->idle);
    state_->total -= idle.size();
    state_->cv.notify_all();
  }
  for (auto& slot : idle) {
    slot.reset();
    observer_->OnConnectionClosed(CloseReason::kShutdown);
  }
}

// ------------------------------------------------------------- PoolDriver

// ------------------------------------------------------- PoolReservation

detail::PoolReservation::PoolReservation(std::shared_ptr<ConnectionPool> pool)
    : pool_(std::move(pool)) {
  std::scoped_lock lock(pool_->state_->mu);
  ++pool_->state_->reserved;
}

detail::PoolReservation::~PoolReservation() {
  std::scoped_lock lock(pool_->state_->mu);
  --pool_->state_->reserved;
  pool_->state_->cv.notify_all();
}

// ------------------------------------------------------------- PoolDriver

struct PoolDriver::ListenerSet {
  std::mutex mu;
  // The LISTEN connection counts against max_size, so a worker never opens
  // more than max_size connections in total.
  std::optional<detail::PoolReservation> reservation;
  std::unique_ptr<ConnectionDriver> driver;  // dedicated LISTEN connection
};

PoolDriver::PoolDriver(std::shared_ptr<ConnectionPool> pool,
                       std::optional<ConnectionOptions> listener)
    : pool_(std::move(pool)),
      listener_options_(std::move(listener)),
      listeners_(std::make_shared<ListenerSet>()) {
  if (!pool_) throw LogicError("PoolDriver needs a pool");
  if (!listener_options_ && pool_->settings().max_size < 2) {
    throw LogicError(
        "PoolDriver needs a pool with max_size >= 2: one connection is dedicated to LISTEN "
        "and the others run statements");
  }
}

PoolDriver::~PoolDriver() {
  std::scoped_lock lock(listeners_->mu);
  if (listeners_->driver) {
    listeners_->driver.reset();
    listeners_->reservation.reset();
  }
}

Rows PoolDriver::Fetch(std::string_view sql, const Params& params) {
  auto lease = pool_->Acquire();
  return lease.Fetch(sql, params);
}

std::int64_t PoolDriver::Execute(std::string_view sql, const Params& params) {
  auto lease = pool_->Acquire();
  return lease.Execute(sql, params);
}

std::unique_ptr<Subscription> PoolDriver::Listen(std::string_view channel,
                                                 NotificationCallback callback,
                                                 ReconnectCallback on_reconnect) {
  std::scoped_lock lock(listeners_->mu);
  if (!listeners_->driver) {
    // A listener on its own endpoint does not use the pool's capacity.
    if (!listener_options_) listeners_->reservation.emplace(pool_);
    try {
      listeners_->driver =
          std::make_unique<ConnectionDriver>(listener_options_.value_or(pool_->options()));
    } catch (...) {
      listeners_->reservation.reset();
      throw;
    }
    pool_->observer().OnConnectionCreated();
  }
  return listeners_->driver->Listen(channel, std::move(callback), std::move(on_reconnect));
}

bool PoolDriver::ListenerHealthy() const {
  // Listen() holds mu while it connects; a health question must not wait for
  // a server that does not answer, and a listener being set up is not up yet.
  std::unique_lock lock(listeners_->mu, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  return listeners_->driver && listeners_->driver->ListenerHealthy();
}

}  // namespace pgq
