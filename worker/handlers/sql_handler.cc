#include "handlers/sql_handler.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include <pqxx/connection_base>
#include <spdlog/spdlog.h>

#include "pgq/error.h"
#include "pgq/sql_params.h"

namespace pgq::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class SqlHandler {
 public:
  SqlHandler(const HandlerConfig& config, std::shared_ptr<ConnectionPool> pool)
      : pool_(std::move(pool)), plan_(PlanParams(config.statement, 2)), timeout_(config.timeout) {
    if (!pool_) throw LogicError("sql handler: no connection pool");
    if (config.statement.empty()) throw LogicError("sql handler: `statement` is empty");
  }

  void Run(const Invocation& inv) const;

 private:
  std::shared_ptr<ConnectionPool> pool_;
  // $1 is the payload, $2 the headers; only the ones the statement uses are
  // bound (see PlanParams).
  ParamPlan plan_;
  milliseconds timeout_;  // <= 0: no limit
};

/// Cancels the statement running on `connection` (PQcancel, from a helper
/// thread) when the timeout passes or `stop` is requested, repeating every
/// 200 ms until the statement returns (a cancel that reaches the server
/// just before the statement starts is ignored). Disarm() must be called
/// before the connection is used for anything else.
class StatementWatchdog {
 public:
  enum class Reason { kNone, kTimeout, kCancelled };

  StatementWatchdog(pqxx::connection_base& connection,
                    std::optional<SteadyClock::time_point> deadline, const std::stop_token& stop)
      : connection_(connection),
        deadline_(deadline),
        on_stop_(stop,
                 [this] {
                   {
                     std::scoped_lock lock(mu_);
                     stop_requested_ = true;
                   }
                   cv_.notify_all();
                 }),
        // Nothing to watch without a deadline or a stoppable token.
        thread_(deadline || stop.stop_possible() ? std::jthread([this] { Watch(); })
                                                 : std::jthread()) {}
  StatementWatchdog(const StatementWatchdog&) = delete;
  StatementWatchdog& operator=(const StatementWatchdog&) = delete;
  ~StatementWatchdog() { Disarm(); }

  /// Stops the watchdog; returns why it fired, if it did.
  Reason Disarm() {
    {
      std::scoped_lock lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::scoped_lock lock(mu_);
    return reason_;
  }

 private:
  void Watch() {
    std::unique_lock lock(mu_);
    auto fired = [this] { return done_ || stop_requested_; };
    if (deadline_) {
      cv_.wait_until(lock, *deadline_, fired);
    } else {
      cv_.wait(lock, fired);
    }
    if (done_) return;
    reason_ = stop_requested_ ? Reason::kCancelled : Reason::kTimeout;
    while (!done_) {
      lock.unlock();
      try {
        // PQgetCancel reads only what the connection fixed at connect time
        // and PQcancel is meant to be called from another thread while a
        // statement runs.
        connection_.cancel_query();
      } catch (const std::exception& e) {
        spdlog::warn("sql handler: cancelling the statement failed: {}", e.what());
      }
      lock.lock();
      cv_.wait_for(lock, milliseconds(200), [this] { return done_; });
    }
  }

  pqxx::connection_base& connection_;
  std::optional<SteadyClock::time_point> deadline_;
  std::mutex mu_;  // guards done_, stop_requested_, reason_
  std::condition_variable cv_;
  bool done_ = false;
  bool stop_requested_ = false;
  Reason reason_ = Reason::kNone;
  std::stop_callback<std::function<void()>> on_stop_;
  std::jthread thread_;  // last: started after everything it uses exists
};

void SqlHandler::Run(const Invocation& inv) const {
  if (inv.stop.stop_requested()) return;  // cancelled before it started
  Params params;
  for (const std::size_t number : plan_.bound) {
    if (number == 1) {
      params.push_back(inv.payload ? Param(ByteaHex(*inv.payload)) : std::nullopt);
    } else {
      params.emplace_back(std::string(inv.headers_json));
    }
  }

  std::optional<SteadyClock::time_point> deadline;
  if (timeout_.count() > 0) deadline = SteadyClock::now() + timeout_;
  Lease lease = pool_->Acquire();
  // Taking the raw connection also makes the pool inspect the session
  // (transaction block, isolation) with a round trip when the lease is
  // returned: user SQL may change either, and a connection left inside a
  // transaction block (e.g. by `BEGIN`) is then discarded.
  pqxx::connection_base& connection = lease.connection();
  StatementWatchdog watchdog(connection, deadline, inv.stop);
  try {
    lease.Execute(plan_.sql, params);
  } catch (const DatabaseError& e) {
    const auto reason = watchdog.Disarm();
    if (reason == StatementWatchdog::Reason::kCancelled && e.sqlstate() == "57014") {
      spdlog::info("sql {}: cancelled; statement interrupted", inv.label);
      return;
    }
    if (reason == StatementWatchdog::Reason::kTimeout && e.sqlstate() == "57014") {
      throw DatabaseError(
          "sql statement timed out after " + std::to_string(timeout_.count()) + " ms", e.sqlstate(),
          /*retryable=*/true);
    }
    throw;
  }
  watchdog.Disarm();
}

}  // namespace

Runner MakeSqlRunner(const HandlerConfig& config, std::shared_ptr<ConnectionPool> pool) {
  auto handler = std::make_shared<const SqlHandler>(config, std::move(pool));
  return [handler](const Invocation& inv) { handler->Run(inv); };
}

}  // namespace pgq::worker
