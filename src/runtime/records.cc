#include "runtime/records.h"

#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "queries/events.h"

namespace pgq::detail {

std::string NewUuid() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string TimedeltaText(std::chrono::microseconds value) {
  // Python's str(timedelta): "[-]D day[s], H:MM:SS[.ffffff]"; days may be
  // negative while the clock part stays positive.
  std::int64_t us = value.count();
  std::int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86400000000LL - 1) / 86400000000LL);
  std::int64_t rest = us - days * 86400000000LL;
  const std::int64_t hours = rest / 3600000000LL;
  rest %= 3600000000LL;
  const std::int64_t minutes = rest / 60000000LL;
  rest %= 60000000LL;
  const std::int64_t seconds = rest / 1000000LL;
  const std::int64_t micros = rest % 1000000LL;
  char clock[48];
  if (micros) {
    std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld.%06lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds),
                  static_cast<long long>(micros));
  } else {
    std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds));
  }
  if (days == 0) return clock;
  return std::to_string(days) + (days == 1 || days == -1 ? " day, " : " days, ") + clock;
}

std::string TracebackJson(const Job& job, std::string_view queue_manager_id,
                          std::string_view exception_type, std::string_view message,
                          std::string_view traceback,
                          const std::optional<std::string>& retry_context_json) {
  nlohmann::ordered_json context;
  context["entrypoint"] = job.entrypoint;
  context["queue_manager_id"] = queue_manager_id;
  if (retry_context_json) {
    const auto retry = nlohmann::ordered_json::parse(*retry_context_json);
    for (const auto& [k, v] : retry.items()) context[k] = v;
  }
  nlohmann::ordered_json record;
  record["job_id"] = job.id;
  record["timestamp"] = detail::IsoUtcOffset(Clock::now());
  record["exception_type"] = exception_type;
  record["exception_message"] = message;
  record["traceback"] = traceback;
  record["additional_context"] = context;
  return record.dump();
}

}  // namespace pgq::detail
