#include "runtime/job_runner.h"

#include <cxxabi.h>

#include <cmath>
#include <cstdlib>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "runtime/records.h"

namespace pgq {

std::optional<std::chrono::microseconds> RetryPolicy::DelayAfter(std::int32_t attempts) const {
  if (attempts >= max_attempts) return std::nullopt;
  const double scaled = static_cast<double>(initial_delay.count()) *
                        std::pow(multiplier, static_cast<double>(attempts));
  const double capped = std::min(scaled, static_cast<double>(max_delay.count()));
  return std::chrono::microseconds(static_cast<std::int64_t>(capped));
}

namespace detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

void JobRunner::Serve() {
  while (auto next = p_.table.NextToRun()) {
    const bool requeued = Execute(next->job, next->cancel);
    p_.table.Finished(next->job.id, requeued);
  }
}

bool JobRunner::Execute(const Job& job, const std::stop_token& cancel) {
  bool requeued = false;
  const auto& entry = p_.entrypoints.At(job.entrypoint);
  const bool urgent = entry.options.concurrency_limit > 0;
  const auto started = SteadyClock::now();
  p_.observer.OnJobStarted(job.entrypoint,
                           std::chrono::duration<double>(Clock::now() - job.created));
  std::string outcome;
  std::string error_type;
  std::string error_message;
  if (cancel.stop_requested()) {
    p_.completions.Add({job.id, JobStatus::kCanceled, std::nullopt}, urgent);
    p_.observer.OnJobFinished(job.entrypoint, "canceled", {});
    return false;
  }
  auto fail = [&](const std::string& type, const std::string& message, bool permanent) {
    error_type = type;
    error_message = message;
    const std::string trace = type + ": " + message;
    if (!permanent && entry.options.retry) {
      if (auto delay = entry.options.retry->DelayAfter(job.attempts)) {
        requeued = Retry(job, *delay, type, message, trace, message);
        outcome = "retried";
        return;
      }
    }
    const bool hold = entry.options.on_failure == OnFailure::kHold;
    p_.completions.Add({job.id, hold ? JobStatus::kFailed : JobStatus::kException,
                        TracebackJson(job, p_.queue_manager_id, type, message, trace)},
                       urgent);
    outcome = hold ? "failed" : "exception";
  };
  try {
    JobContext ctx{job, cancel, p_.resources};
    entry.handler(ctx);
    const bool canceled = cancel.stop_requested();
    p_.completions.Add(
        {job.id, canceled ? JobStatus::kCanceled : JobStatus::kSuccessful, std::nullopt}, urgent);
    outcome = canceled ? "canceled" : "successful";
  } catch (const RetryRequested& r) {
    requeued = Retry(job, r.delay(), "pgq::RetryRequested", r.what(),
                     std::string("pgq::RetryRequested: ") + r.what(), r.reason());
    outcome = "retried";
    error_type = "pgq::RetryRequested";
    error_message = r.what();
  } catch (const PermanentFailure& e) {
    fail(Demangle(typeid(e).name()), e.what(), true);
  } catch (const std::exception& e) {
    fail(Demangle(typeid(e).name()), e.what(), false);
  } catch (...) {
    fail("unknown", "a non-standard exception was thrown", false);
  }
  const std::chrono::duration<double> took = SteadyClock::now() - started;
  p_.observer.OnJobFinished(job.entrypoint, outcome, took);
  if (outcome != "successful" && outcome != "canceled") {
    p_.events.Record({job, outcome, error_type, error_message, took});
  }
  return requeued;
}

bool JobRunner::Retry(const Job& job, std::chrono::microseconds delay, const std::string& type,
                      const std::string& message, const std::string& trace,
                      const std::string& reason) {
  nlohmann::ordered_json retry_context;
  retry_context["attempt"] = job.attempts + 1;
  retry_context["retry_delay"] = TimedeltaText(delay);
  retry_context["reason"] = reason;
  try {
    p_.store.Retry(job.id, delay,
                   TracebackJson(job, p_.queue_manager_id, type, message, trace,
                                 retry_context.dump()));
    return true;
  } catch (const std::exception& e) {
    // The row stays picked; once heartbeats stop it is taken over after
    // heartbeat_timeout, so the job still runs again.
    p_.log->error("could not put job {} back for a retry: {}", job.id, e.what());
    return false;
  }
}

}  // namespace detail
}  // namespace pgq
