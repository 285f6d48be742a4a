#include "runtime/listener_health.h"

#include <nlohmann/json.hpp>

#include "queries/events.h"
#include "runtime/records.h"

namespace pgq::detail {

using SteadyClock = std::chrono::steady_clock;

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

void ListenerHealth::Loop(const std::stop_token& token, std::chrono::milliseconds interval,
                          const std::atomic<bool>& running) {
  while (!token.stop_requested()) {
    const std::string probe = NewUuid();
    {
      std::scoped_lock lock(mu_);
      pending_id_ = probe;
      received_ = false;
    }
    bool ok = false;
    std::string problem;
    try {
      nlohmann::ordered_json extra;
      extra["id"] = probe;
      store_.Notify(channel_, EventJson(channel_, "health_check_event", extra));
      std::unique_lock lock(mu_);
      ok = cv_.wait_for(lock, interval, [&] { return received_ || token.stop_requested(); });
      if (!ok) problem = "health_check_event not received back within the check interval";
    } catch (const std::exception& e) {
      problem = std::string("health check failed: ") + e.what();
    }
    const bool listening = store_.ListenerHealthy();
    {
      std::scoped_lock lock(mu_);
      problem_ = ok && listening ? "" : (problem.empty() ? "listener is down" : problem);
      if (listening && !was_listening_ && running) ++reconnects_;
      was_listening_ = listening;
    }
    observer_->OnListenerUp(ok && listening);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, interval, [&] { return token.stop_requested(); });
  }
}

void ListenerHealth::Fill(RuntimeHealth& health) const {
  // Ask the driver before taking mu_ (see the member comment).
  const bool listening = store_.ListenerHealthy();
  std::scoped_lock lock(mu_);
  health.listener_up = listening && problem_.empty();
  health.listener_problem = problem_;
  health.last_event_age_seconds =
      std::chrono::duration<double>(SteadyClock::now() - last_event_).count();
  health.listener_reconnects = reconnects_;
}

}  // namespace pgq::detail
