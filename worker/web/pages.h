#pragma once
// The console's screens as HTML. Every value from the database is escaped
// here (web/html.h); nothing else writes markup.

#include <cstdint>
#include <string>
#include <vector>

#include "pgq/console_queries.h"

namespace pgq::worker::web {

/// What every page shows around its body.
struct PageFrame {
  std::string title;   ///< plain text
  std::string active;  ///< nav entry: "overview", "jobs", "failures" or ""
  std::string queue;   ///< the queue table's name
  std::string user;    ///< the acting user, plain text
  bool read_only = false;
  std::string csrf_token;  ///< for the forms of actions
};

std::string Page(const PageFrame& frame, const std::string& body_html);

std::string OverviewBody(const ConsoleOverview& overview,
                         const std::vector<EntrypointBacklog>& backlog);
/// `filter` as asked (its `before` is the current cursor).
std::string JobsBody(const JobFilter& filter, const JobPage& page);
/// `payload_preview` 0: payloads hidden. Actions only when `actions`.
std::string JobBody(JobId id, const JobDetail& detail, std::int64_t payload_preview, bool actions,
                    const std::string& csrf_token);
std::string FailuresBody(const std::vector<FailureGroup>& groups);
/// A short message page body (errors, refusals).
std::string MessageBody(const std::string& heading, const std::string& text);

}  // namespace pgq::worker::web
