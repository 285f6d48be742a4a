#include "runtime/listener_health.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "queries/events.h"
#include "runtime/records.h"

namespace pgq::detail {

using SteadyClock = std::chrono::steady_clock;

namespace {
// How often a dropped LISTEN connection is noticed between checks (an atomic
// read in the driver).
constexpr std::chrono::milliseconds kWatchPeriod{200};
}  // namespace

void ListenerHealth::Start() {
  const bool listening = store_.ListenerHealthy();  // not under mu_ (see the member comment)
  std::scoped_lock lock(mu_);
  was_listening_ = listening;
}

void ListenerHealth::OnEvent() {
  std::scoped_lock lock(mu_);
  last_event_ = SteadyClock::now();
}

void ListenerHealth::OnHealthCheck(const std::string& id) {
  std::scoped_lock lock(mu_);
  if (!pending_id_.empty() && id == pending_id_) {
    received_ = true;
    cv_.notify_all();
  }
}

void ListenerHealth::OnReconnect(bool running) {
  std::scoped_lock lock(mu_);
  if (running) ++reconnects_;
  was_listening_ = true;
  check_now_ = true;
  cv_.notify_all();
}

bool ListenerHealth::Check(const std::stop_token& token, std::chrono::milliseconds timeout,
                           std::string& problem) {
  const std::string probe = NewUuid();
  const auto started = SteadyClock::now();
  {
    std::scoped_lock lock(mu_);
    pending_id_ = probe;
    received_ = false;
    check_now_ = false;
    checking_ = true;
    check_started_ = started;
    timeout_ = timeout;
  }
  bool ok = false;
  try {
    nlohmann::ordered_json extra;
    extra["id"] = probe;
    store_.Notify(channel_, EventJson(channel_, "health_check_event", extra));
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, started + timeout,
                   [&] { return received_ || check_now_ || token.stop_requested(); });
    ok = received_;
    if (!ok && !check_now_ && !token.stop_requested()) {
      problem = "health_check_event not received back within " +
                std::to_string(timeout.count()) + " ms";
    }
  } catch (const std::exception& e) {
    problem = std::string("health check failed: ") + e.what();
  }
  std::scoped_lock lock(mu_);
  checking_ = false;
  return ok;
}

void ListenerHealth::Report(bool up, std::string problem) {
  {
    std::scoped_lock lock(mu_);
    problem_ = up ? "" : (problem.empty() ? "listener is down" : std::move(problem));
    reported_up_ = up;
  }
  observer_->OnListenerUp(up);
}

void ListenerHealth::WaitForNext(const std::stop_token& token,
                                 std::chrono::milliseconds interval) {
  const auto due = SteadyClock::now() + interval;
  while (true) {
    {
      std::unique_lock lock(mu_);
      const auto until = std::min(due, SteadyClock::now() + kWatchPeriod);
      if (cv_.wait_until(lock, until, [&] { return check_now_ || token.stop_requested(); })) {
        return;
      }
      if (SteadyClock::now() >= due) return;
      if (!reported_up_) continue;
    }
    if (!store_.ListenerHealthy()) {  // not under mu_
      // The reconnect callback wakes the claim loop once LISTEN is back.
      Report(false, "listener connection lost");
      std::scoped_lock lock(mu_);
      if (!check_now_) was_listening_ = false;  // else it is back already
    }
  }
}

void ListenerHealth::Loop(const std::stop_token& token, Timing timing,
                          const std::atomic<bool>& running) {
  while (!token.stop_requested()) {
    std::string problem;
    const bool ok = Check(token, timing.timeout, problem);
    if (token.stop_requested()) break;
    if (!ok && problem.empty()) continue;  // a reconnect: check again at once
    const bool listening = store_.ListenerHealthy();
    {
      std::scoped_lock lock(mu_);
      if (listening && !was_listening_ && running) ++reconnects_;
      was_listening_ = listening;
    }
    Report(ok && listening, std::move(problem));
    // A check that did not come back may have taken a notification with it.
    if (!ok) on_maybe_lost_();
    WaitForNext(token, timing.interval);
  }
}

void ListenerHealth::Fill(RuntimeHealth& health) const {
  // Ask the driver before taking mu_ (see the member comment).
  const bool listening = store_.ListenerHealthy();
  std::scoped_lock lock(mu_);
  const auto now = SteadyClock::now();
  const bool overdue = checking_ && now - check_started_ > timeout_;
  health.listener_up = listening && problem_.empty() && !overdue;
  health.listener_problem =
      overdue ? "health check pending for more than " + std::to_string(timeout_.count()) + " ms"
              : problem_;
  health.last_event_age_seconds = std::chrono::duration<double>(now - last_event_).count();
  health.listener_reconnects = reconnects_;
}

}  // namespace pgq::detail
