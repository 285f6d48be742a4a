#include "pgq/job_queries.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "pgq/error.h"
#include "queries/events.h"
#include "queries/query_context.h"
#include "queries/rows.h"
#include "sql/literals.h"
#include "sql/params.h"

namespace pgq {

using detail::ArrayLiteral;
using detail::ParseJobs;

JobQueries::JobQueries(std::shared_ptr<const detail::QueryContext> context)
    : context_(std::move(context)) {}

std::vector<Job> JobQueries::Dequeue(const ClaimRequest& request) {
  if (request.batch_size < 1) throw LogicError("batch_size must be at least 1");
  if (request.entrypoints.empty()) return {};
  std::vector<std::string> names;
  std::vector<std::int64_t> limits;
  for (const auto& ep : request.entrypoints) {
    names.push_back(ep.name);
    limits.push_back(ep.concurrency_limit);
  }
  const bool limited = std::any_of(limits.begin(), limits.end(), [](auto l) { return l > 0; });
  Driver& driver = context_->driver();
  if (!limited && !request.worker_cap) {
    // All but the worker id written in as literals (see sql/claim.sql); the
    // text stays the same for the whole run.
    const std::string sql = context_->sql.dequeue_ungated.Render(
        {{"batch", std::to_string(request.batch_size)},
         {"heartbeat_timeout",
          detail::QuoteLiteral(detail::IntervalLiteral(request.heartbeat_timeout))},
         {"entrypoints", detail::QuoteLiteral(ArrayLiteral(names))}});
    return ParseJobs(driver.Fetch(sql, {request.queue_manager_id}));
  }
  Params params{
      std::to_string(request.batch_size),
      ArrayLiteral(names),
      ArrayLiteral(limits),
      request.queue_manager_id,
      std::to_string(request.worker_cap.value_or(std::numeric_limits<std::int64_t>::max())),
      detail::IntervalLiteral(request.heartbeat_timeout)};
  if (!limited) return ParseJobs(driver.Fetch(context_->sql.dequeue, params));

  // A statement's snapshot is taken when it starts, so two dequeues racing on
  // different connections could both count the same free slot. For limited
  // entrypoints we first take a per-entrypoint transaction advisory lock in
  // its own statement, then claim with a fresh snapshot, all in one
  // implicit transaction (one round trip, committed on its own). The
  // counting rule stays PgQueuer's; only the overlap is removed.
  std::vector<std::string> locked;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (limits[i] > 0) locked.push_back(context_->settings.QueueTable() + ":" + names[i]);
  }
  std::string script =
      "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtext(e) AS k "
      "FROM unnest(" +
      detail::QuoteLiteral(ArrayLiteral(locked)) + "::text[]) AS e ORDER BY 1) AS keys;\n" +
      context_->sql.dequeue;
  // A multi-statement query cannot bind: the parameters go in as literals.
  return ParseJobs(driver.Fetch(detail::InlineParams(script, params)));
}

void JobQueries::Complete(const std::vector<Completion>& completions) {
  if (completions.empty()) return;
  std::vector<std::int64_t> ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> tracebacks;
  for (const auto& c : completions) {
    ids.push_back(c.id);
    statuses.emplace_back(ToString(c.status));
    tracebacks.push_back(c.traceback);
  }
  context_->driver().Execute(context_->sql.complete,
                             {ArrayLiteral(ids), ArrayLiteral(statuses), ArrayLiteral(tracebacks)});
}

bool JobQueries::Retry(JobId id, std::chrono::microseconds delay,
                       std::optional<std::string> traceback) {
  return context_->driver().Execute(
             context_->sql.retry,
             {std::to_string(id), detail::IntervalLiteral(delay), std::move(traceback)}) > 0;
}

std::int64_t JobQueries::Release(const std::vector<JobId>& ids, std::string_view queue_manager_id) {
  if (ids.empty()) return 0;
  return context_->driver().Execute(context_->sql.release,
                                    {ArrayLiteral(ids), std::string(queue_manager_id)});
}

std::int64_t JobQueries::Requeue(const std::vector<JobId>& ids) {
  return context_->driver().Execute(context_->sql.requeue, {ArrayLiteral(ids)});
}

std::vector<Job> JobQueries::ListFailed(std::int64_t limit, bool newest_first) {
  return ParseJobs(context_->driver().Fetch(
      newest_first ? context_->sql.list_failed_newest : context_->sql.list_failed_oldest,
      {std::to_string(limit)}));
}

void JobQueries::Cancel(const std::vector<JobId>& ids) {
  if (ids.empty()) return;
  std::vector<Completion> completions;
  for (auto id : ids) completions.push_back({id, JobStatus::kCanceled, std::nullopt});
  Complete(completions);
  // NOTIFY payloads are limited to ~8000 bytes: send the ids in chunks.
  constexpr std::size_t kIdsPerEvent = 300;
  for (std::size_t i = 0; i < ids.size(); i += kIdsPerEvent) {
    std::vector<JobId> chunk(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kIdsPerEvent)));
    context_->driver().Notify(context_->settings.channel,
                              CancellationEventJson(context_->settings.channel, chunk));
  }
}

void JobQueries::Heartbeat(const std::vector<JobId>& ids) {
  if (ids.empty()) return;
  std::vector<JobId> unique(ids);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  context_->driver().Execute(context_->sql.heartbeat, {ArrayLiteral(unique)});
}

JobQueries::QueueProbe JobQueries::ProbeQueue(const std::vector<std::string>& entrypoints) {
  auto rows = context_->driver().Fetch(context_->sql.queue_probe, {ArrayLiteral(entrypoints)});
  QueueProbe probe;
  probe.eligible = rows.Text(0, "eligible") == "t";
  probe.queued = rows.Text(0, "queued") == "t";
  if (const auto& eta = rows.At(0, "eta_us")) {
    probe.next_eta = std::chrono::microseconds(detail::ParseInt64(*eta));
  }
  return probe;
}

std::vector<std::pair<JobId, JobStatus>> JobQueries::JobStatuses(const std::vector<JobId>& ids) {
  auto rows = context_->driver().Fetch(context_->sql.job_status, {ArrayLiteral(ids)});
  std::vector<std::pair<JobId, JobStatus>> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.emplace_back(rows.Int(r, "job_id"), ParseJobStatus(rows.Text(r, "status")));
  }
  return out;
}

std::string CancellationEventJson(std::string_view channel, const std::vector<JobId>& ids) {
  nlohmann::ordered_json extra;
  extra["ids"] = ids;
  return detail::EventJson(channel, "cancellation_event", extra);
}

}  // namespace pgq
