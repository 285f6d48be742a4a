#include "queries/events.h"

#include <cstdio>
#include <ctime>

namespace pgq::detail {
namespace {

std::string Format(Clock::time_point when, const char* suffix) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%s", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros % 1000000), suffix);
  return buf;
}

}  // namespace

std::string IsoUtc(Clock::time_point when) { return Format(when, "Z"); }
std::string IsoUtcOffset(Clock::time_point when) { return Format(when, "+00:00"); }

std::string EventJson(std::string_view channel, std::string_view type,
                      const nlohmann::ordered_json& extra) {
  const std::string now = IsoUtc(Clock::now());
  nlohmann::ordered_json event;
  event["channel"] = channel;
  event["sent_at"] = now;
  event["type"] = type;
  event["received_at"] = now;
  for (const auto& [key, value] : extra.items()) event[key] = value;
  return event.dump();
}

std::optional<Event> ParseEvent(std::string_view payload) {
  auto json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  auto type = json.find("type");
  if (type == json.end() || !type->is_string()) return std::nullopt;
  Event event;
  event.type = type->get<std::string>();
  if (auto ids = json.find("ids"); ids != json.end() && ids->is_array()) {
    for (const auto& id : *ids) {
      // A value beyond int64 is not a job id (it would wrap to a negative one).
      if (id.is_number_unsigned() && id.get<std::uint64_t>() > 9223372036854775807ULL) continue;
      if (id.is_number_integer()) event.ids.push_back(id.get<JobId>());
    }
  }
  if (auto id = json.find("id"); id != json.end() && id->is_string()) {
    event.id = id->get<std::string>();
  }
  if (auto op = json.find("operation"); op != json.end() && op->is_string()) {
    event.operation = op->get<std::string>();
  }
  return event;
}

bool MayMeanNewWork(const Event& event, bool has_limited_entrypoints) {
  if (event.operation == "delete" || event.operation == "truncate") return has_limited_entrypoints;
  return true;
}

}  // namespace pgq::detail
