#include "queries/rows.h"

#include <string>

#include "sql/literals.h"

namespace pgq::detail {
namespace {

Clock::time_point Micros(const Rows& rows, std::size_t r, std::size_t c) {
  return FromEpochMicros(*rows.At(r, c));
}

}  // namespace

std::vector<Job> ParseJobs(const Rows& rows) {
  std::vector<Job> jobs;
  jobs.reserve(rows.size());
  if (rows.empty()) return jobs;
  const std::size_t id = rows.Index("id"), priority = rows.Index("priority"),
                    qm = rows.Index("queue_manager_id"), created = rows.Index("created_us"),
                    updated = rows.Index("updated_us"), heartbeat = rows.Index("heartbeat_us"),
                    execute_after = rows.Index("execute_after_us"), status = rows.Index("status"),
                    entrypoint = rows.Index("entrypoint"), dedupe = rows.Index("dedupe_key"),
                    payload = rows.Index("payload"), headers = rows.Index("headers"),
                    attempts = rows.Index("attempts");
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t rescued = kNone;
  for (std::size_t c = 0; c < rows.columns().size(); ++c) {
    if (rows.columns()[c] == "rescued") rescued = c;
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    Job job;
    job.id = ParseInt64(*rows.At(r, id));
    job.priority = static_cast<std::int32_t>(ParseInt64(*rows.At(r, priority)));
    job.queue_manager_id = rows.At(r, qm).value_or("");
    job.created = Micros(rows, r, created);
    job.updated = Micros(rows, r, updated);
    job.heartbeat = Micros(rows, r, heartbeat);
    job.execute_after = Micros(rows, r, execute_after);
    job.status = ParseJobStatus(*rows.At(r, status));
    job.entrypoint = *rows.At(r, entrypoint);
    job.dedupe_key = rows.At(r, dedupe);
    if (const auto& p = rows.At(r, payload)) job.payload = DecodeBytea(*p);
    job.headers = rows.At(r, headers).value_or("null");
    job.attempts = static_cast<std::int32_t>(ParseInt64(*rows.At(r, attempts)));
    if (rescued != kNone) job.rescued = rows.At(r, rescued) == std::optional<std::string>("t");
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<ScheduleRow> ParseSchedules(const Rows& rows) {
  std::vector<ScheduleRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    ScheduleRow row;
    row.id = rows.Int(r, "id");
    row.expression = rows.Text(r, "expression");
    row.entrypoint = rows.Text(r, "entrypoint");
    row.heartbeat = FromEpochMicros(rows.Text(r, "heartbeat_us"));
    row.created = FromEpochMicros(rows.Text(r, "created_us"));
    row.updated = FromEpochMicros(rows.Text(r, "updated_us"));
    row.next_run = FromEpochMicros(rows.Text(r, "next_run_us"));
    if (const auto& last = rows.At(r, "last_run_us")) {
      row.last_run = FromEpochMicros(*last);
    }
    row.status = ParseJobStatus(rows.Text(r, "status"));
    out.push_back(std::move(row));
  }
  return out;
}

// Headers must be a JSON object or null: anything else breaks Python

}  // namespace pgq::detail
