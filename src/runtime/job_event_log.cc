#include "runtime/job_event_log.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

namespace pgq::detail {

namespace {
// Long enough for any useful exception text; a handler that puts a whole
// document into its exception does not get it all into the log.
constexpr std::size_t kMaxMessage = 500;

std::string Quoted(std::string_view text) {
  std::string cut(text.substr(0, kMaxMessage));
  if (text.size() > kMaxMessage) cut += "…";
  return nlohmann::json(cut).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

bool TokenBucket::Take(TimePoint now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() *
                                             per_second_);
    last_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

std::string JobEventLog::Format(const JobEvent& e) {
  std::string line = "job " + std::string(e.outcome) + ": entrypoint=" +
                     Quoted(e.job.entrypoint) + " job_id=" + std::to_string(e.job.id) +
                     " attempt=" + std::to_string(e.job.attempts + 1) +
                     " outcome=" + std::string(e.outcome);
  if (!e.exception_type.empty()) line += " exception_type=" + Quoted(e.exception_type);
  if (!e.message.empty()) line += " exception_message=" + Quoted(e.message);
  line += " duration_seconds=" + fmt::format("{:.3f}", e.duration.count());
  return line;
}

void JobEventLog::Record(const JobEvent& event) {
  std::int64_t dropped = 0;
  {
    std::scoped_lock lock(mu_);
    if (!bucket_.Take(std::chrono::steady_clock::now())) {
      ++suppressed_;
      observer_.OnJobLogSuppressed();
      return;
    }
    dropped = std::exchange(suppressed_, 0);
  }
  if (dropped > 0) {
    log_->warn("{} job log lines suppressed by the rate limit ({} per second, burst {})", dropped,
               per_second_, burst_);
  }
  log_->warn("{}", Format(event));
}

std::int64_t JobEventLog::pending_suppressed() const {
  std::scoped_lock lock(mu_);
  return suppressed_;
}

}  // namespace pgq::detail
