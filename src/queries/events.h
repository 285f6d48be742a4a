#pragma once
// NOTIFY event payloads in PgQueuer's JSON shapes (spec section 2).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgq/queries.h"

namespace pgq::detail {

/// "2025-01-01T10:00:00.123456Z"
std::string IsoUtc(Clock::time_point when);
/// "2025-01-01T10:00:00.123456+00:00" (Python's isoformat of an aware UTC time)
std::string IsoUtcOffset(Clock::time_point when);

/// Compact JSON with keys channel, sent_at, type, received_at, then `extra`.
std::string EventJson(std::string_view channel, std::string_view type,
                      const nlohmann::ordered_json& extra);

struct Event {
  std::string type;
  std::vector<JobId> ids;  // cancellation_event
  std::string id;          // health_check_event
  std::string operation;   // table_changed_event: insert | update | delete | truncate
};
/// Parses leniently (extra keys ignored); nullopt when it is not an event.
std::optional<Event> ParseEvent(std::string_view payload);

/// Whether a table_changed_event can mean new claimable work for a worker.
/// Inserts and updates (a release) can; a delete or truncate only frees
/// concurrency slots, which matters only to a worker with a limited
/// entrypoint. Unknown operations count as work.
bool MayMeanNewWork(const Event& event, bool has_limited_entrypoints);

}  // namespace pgq::detail
