#pragma once
// Text the runtime writes into the database: worker ids, TracebackRecord
// JSON and Python timedelta text. Internal; tests include it directly.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pgq/queries.h"

namespace pgq::detail {

/// A random UUID v4 in canonical text form.
std::string NewUuid();

/// TracebackRecord JSON (PgQueuer's shape) for a failure of `job`.
std::string TracebackJson(const Job& job, std::string_view queue_manager_id,
                          std::string_view exception_type, std::string_view message,
                          std::string_view traceback,
                          const std::optional<std::string>& retry_context_json = std::nullopt);

/// Python timedelta text ("0:00:30", "1 day, 2:03:04.500000").
std::string TimedeltaText(std::chrono::microseconds value);

}  // namespace pgq::detail
