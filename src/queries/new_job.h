#pragma once
// Checks on a NewJob that every enqueue path applies before it sends one.

#include <optional>
#include <string>

#include "pgq/job.h"

namespace pgq::detail {

/// Headers as they are sent: a JSON object or "null". Anything else breaks
/// Python workers' validation of the whole dequeue batch (spec 1.12), so it
/// is a LogicError.
std::string CheckedHeaders(const std::optional<std::string>& headers);

/// LogicError unless the job has an entrypoint and valid headers.
void CheckNewJob(const NewJob& job);

}  // namespace pgq::detail
