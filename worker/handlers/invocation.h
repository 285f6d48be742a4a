#pragma once
// What one handler run gets, whether it serves a job or a schedule; every
// handler kind (exec, http, sql, built-ins) runs from an Invocation.

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgq/runtime.h"
#include "pgq/scheduler.h"

namespace pgq::worker {

struct Invocation {
  /// Payload bytes; nullopt is SQL NULL (exec and http send nothing).
  std::optional<std::string_view> payload;
  /// JSON text for the sql handler's $2.
  std::string_view headers_json;
  /// PGQ_* variables for exec.
  std::vector<std::pair<std::string, std::string>> env;
  /// X-Pgq-* request headers for http.
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::stop_token stop;
  /// "job 42" / "schedule nightly", for log lines.
  std::string label;
};

/// One configured handler, ready to run.
using Runner = std::function<void(const Invocation&)>;

/// The invocation for a job (borrows from `ctx`).
Invocation ForJob(const JobContext& ctx);
/// The invocation for a schedule: no payload, no stop token.
Invocation ForSchedule(const ScheduleContext& ctx);

}  // namespace pgq::worker
