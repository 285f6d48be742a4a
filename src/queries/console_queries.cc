// The job console's queries. The statements, and why each is shaped as it
// is, are src/queries/sql/console_*.sql; requeue.sql is the consumer's own.

#include "pgq/console_queries.h"

#include <algorithm>
#include <string>
#include <utility>

#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq {
namespace detail {

struct ConsoleSql {
  explicit ConsoleSql(const DBSettings& s)
      : overview(SqlStatement("console_overview", s)),
        backlog(SqlStatement("console_backlog", s)),
        jobs(SqlStatement("console_jobs", s)),
        job(SqlStatement("console_job", s)),
        job_log(SqlStatement("console_job_log", s)),
        failures(SqlStatement("console_failures", s)),
        requeue(SqlStatement("requeue", s)) {}
  std::string overview, backlog, jobs, job, job_log, failures, requeue;
};

}  // namespace detail

namespace {

std::optional<double> Seconds(const Param& cell) {
  if (!cell) return std::nullopt;
  return std::stod(*cell);
}

std::optional<std::int64_t> OptionalInt(const Param& cell) {
  if (!cell) return std::nullopt;
  return detail::ParseInt64(*cell);
}

std::int32_t Int32(const Rows& rows, std::size_t r, std::string_view column) {
  return static_cast<std::int32_t>(rows.Int(r, column));
}

Clock::time_point Micros(const Rows& rows, std::size_t r, std::string_view column) {
  return detail::FromEpochMicros(rows.Text(r, column));
}

std::string Limit(std::int64_t value, std::int64_t low, std::int64_t high) {
  return std::to_string(std::clamp(value, low, high));
}

}  // namespace

ConsoleQueries::ConsoleQueries(Executor& executor, DBSettings settings)
    : executor_(executor), sql_(std::make_shared<const detail::ConsoleSql>([&] {
        settings.Validate();
        return settings;
      }())) {}

ConsoleOverview ConsoleQueries::Overview() {
  const auto rows = executor_.Fetch(sql_->overview);
  ConsoleOverview out;
  out.queued = rows.Int(0, "queued");
  out.picked = rows.Int(0, "picked");
  out.failed = rows.Int(0, "failed");
  out.oldest_wait_seconds = Seconds(rows.At(0, "oldest_wait_s"));
  return out;
}

std::vector<EntrypointBacklog> ConsoleQueries::Backlog(std::int64_t limit) {
  const auto rows = executor_.Fetch(sql_->backlog, {Limit(limit, 1, 100000)});
  std::vector<EntrypointBacklog> out;
  out.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "entrypoint"), rows.Int(r, "queued"), rows.Int(r, "picked"),
                   rows.Int(r, "failed"), Seconds(rows.At(r, "oldest_wait_s"))});
  }
  return out;
}

JobPage ConsoleQueries::ListJobs(const JobFilter& filter) {
  const std::int64_t page = std::clamp<std::int64_t>(filter.limit, 1, kMaxConsolePage);
  auto text = [](const auto& value) -> Param {
    if (!value) return std::nullopt;
    return std::to_string(*value);
  };
  // One row more than the page tells whether there is a next page.
  const auto rows = executor_.Fetch(
      sql_->jobs,
      {filter.status ? Param(std::string(ToString(*filter.status))) : std::nullopt,
       filter.entrypoint, text(filter.id), text(filter.before), std::to_string(page + 1)});
  JobPage out;
  const std::size_t shown = std::min<std::size_t>(rows.size(), static_cast<std::size_t>(page));
  out.jobs.reserve(shown);
  for (std::size_t r = 0; r < shown; ++r) {
    JobSummary job;
    job.id = rows.Int(r, "id");
    job.priority = Int32(rows, r, "priority");
    job.status = ParseJobStatus(rows.Text(r, "status"));
    job.entrypoint = rows.Text(r, "entrypoint");
    job.dedupe_key = rows.At(r, "dedupe_key");
    job.attempts = Int32(rows, r, "attempts");
    job.queue_manager_id = rows.At(r, "queue_manager_id").value_or("");
    job.created = Micros(rows, r, "created_us");
    job.updated = Micros(rows, r, "updated_us");
    job.execute_after = Micros(rows, r, "execute_after_us");
    job.payload_bytes = OptionalInt(rows.At(r, "payload_bytes"));
    out.jobs.push_back(std::move(job));
  }
  if (rows.size() > shown && !out.jobs.empty()) out.next_before = out.jobs.back().id;
  return out;
}

JobDetail ConsoleQueries::Detail(JobId id, std::int64_t payload_preview, std::int64_t log_rows) {
  JobDetail out;
  const auto rows = executor_.Fetch(
      sql_->job, {std::to_string(id), Limit(payload_preview, 0, kMaxPayloadPreview)});
  if (!rows.empty()) {
    Job job;
    job.id = rows.Int(0, "id");
    job.priority = Int32(rows, 0, "priority");
    job.queue_manager_id = rows.At(0, "queue_manager_id").value_or("");
    job.created = Micros(rows, 0, "created_us");
    job.updated = Micros(rows, 0, "updated_us");
    job.heartbeat = Micros(rows, 0, "heartbeat_us");
    job.execute_after = Micros(rows, 0, "execute_after_us");
    job.status = ParseJobStatus(rows.Text(0, "status"));
    job.entrypoint = rows.Text(0, "entrypoint");
    job.dedupe_key = rows.At(0, "dedupe_key");
    if (const auto& p = rows.At(0, "payload_preview")) job.payload = detail::DecodeBytea(*p);
    job.headers = rows.At(0, "headers").value_or("null");
    job.attempts = Int32(rows, 0, "attempts");
    out.payload_bytes = OptionalInt(rows.At(0, "payload_bytes"));
    out.job = std::move(job);
  }
  const auto log = executor_.Fetch(sql_->job_log, {std::to_string(id), Limit(log_rows, 1, 10000)});
  out.log.reserve(log.size());
  for (std::size_t r = 0; r < log.size(); ++r) {
    out.log.push_back({log.Int(r, "id"), Micros(log, r, "created_us"),
                       ParseJobStatus(log.Text(r, "status")), log.Text(r, "entrypoint"),
                       Int32(log, r, "priority"), log.At(r, "traceback")});
    if (!out.traceback && out.log.back().traceback) out.traceback = out.log.back().traceback;
  }
  return out;
}

std::vector<FailureGroup> ConsoleQueries::Failures(std::int64_t limit) {
  const auto rows = executor_.Fetch(sql_->failures, {Limit(limit, 1, 100000)});
  std::vector<FailureGroup> out;
  out.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "entrypoint"), rows.Int(r, "jobs"), Micros(rows, r, "first_us"),
                   Micros(rows, r, "last_us"), rows.Int(r, "newest_id"),
                   rows.At(r, "exception_type"), rows.At(r, "exception_message")});
  }
  return out;
}

std::int64_t ConsoleQueries::Requeue(const std::vector<JobId>& ids) {
  if (ids.empty()) return 0;
  return executor_.Execute(sql_->requeue, {detail::ArrayLiteral(ids)});
}

}  // namespace pgq
