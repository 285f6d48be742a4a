#include "run/readiness_monitor.h"

#include <spdlog/spdlog.h>

namespace pgq::worker {
namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// "name: reason; name: reason" of the failing checks ("" when ready).
std::string FailingReasons(const Readiness& r) {
  std::string out;
  for (const auto& check : r.body.value("checks", nlohmann::ordered_json::array())) {
    if (check.value("ok", false)) continue;
    if (!out.empty()) out += "; ";
    out += check.value("name", "?") + ": " + check.value("reason", "");
  }
  return out;
}

}  // namespace

ReadinessMonitor::ReadinessMonitor(Check check, std::chrono::milliseconds interval,
                                   std::chrono::milliseconds probe_wait)
    : check_(std::move(check)), interval_(interval), probe_wait_(probe_wait) {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

ReadinessMonitor::~ReadinessMonitor() {
  thread_.request_stop();
  cv_.notify_all();
}

void ReadinessMonitor::Loop(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    started_ = requested_;
    running_ = true;
    running_since_ = Clock::now();
    lock.unlock();
    Readiness r;
    try {
      r = check_();
    } catch (const std::exception& e) {
      r.ok = false;
      r.body["status"] = "not ready";
      r.body["checks"] = nlohmann::ordered_json::array(
          {{{"name", "readiness"}, {"ok", false}, {"reason", e.what()}}});
    }
    LogChange(r);
    lock.lock();
    running_ = false;
    last_ = std::move(r);
    last_at_ = Clock::now();
    finished_ = started_;
    cv_.notify_all();
    cv_.wait_for(lock, stop, interval_, [this] { return requested_ > finished_; });
  }
}

void ReadinessMonitor::LogChange(const Readiness& r) {
  const std::string reasons = FailingReasons(r);
  if (reasons == logged_) return;  // only this thread touches logged_
  if (reasons.empty()) {
    spdlog::info("ready: every readiness check passes");
  } else {
    spdlog::warn("not ready: {}", reasons);
  }
  logged_ = reasons;
}

HttpResponse ReadinessMonitor::Probe() {
  std::unique_lock lock(mu_);
  const std::uint64_t mine = ++requested_;
  cv_.notify_all();
  const bool fresh =
      cv_.wait_for(lock, probe_wait_, [&] { return finished_ >= mine || !thread_.joinable(); });
  Readiness r;
  if (last_) r = *last_;
  if (!fresh) {
    const auto now = Clock::now();
    if (last_) r.body["age_seconds"] = Seconds(now - last_at_);
    const auto running_for = running_ ? now - running_since_ : Clock::duration::zero();
    if (!last_ || running_for >= probe_wait_) {
      // The check is stuck on the database (or has not finished once yet).
      const std::string reason =
          last_ ? "a readiness check has been waiting on the database for " +
                      std::to_string(static_cast<int>(Seconds(running_for))) + " s"
                : "the first readiness check is still running";
      if (!r.body.contains("checks")) r.body["checks"] = nlohmann::ordered_json::array();
      r.body["checks"].push_back({{"name", "database"}, {"ok", false}, {"reason", reason}});
      r.ok = false;
      r.body["status"] = "not ready";
    }
  }
  return {r.ok ? 200 : 503, "application/json", r.body.dump() + "\n"};
}

}  // namespace pgq::worker
