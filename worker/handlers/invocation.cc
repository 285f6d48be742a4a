#include "handlers/invocation.h"

namespace pgq::worker {

Invocation ForJob(const JobContext& ctx) {
  const Job& job = ctx.job;
  Invocation inv;
  if (job.payload) inv.payload = std::string_view(*job.payload);
  inv.headers_json = job.headers;
  inv.env = {{"PGQ_JOB_ID", std::to_string(job.id)},
             {"PGQ_ENTRYPOINT", job.entrypoint},
             {"PGQ_HEADERS", job.headers},
             {"PGQ_ATTEMPTS", std::to_string(job.attempts)}};
  inv.http_headers = {{"X-Pgq-Job-Id", std::to_string(job.id)},
                      {"X-Pgq-Entrypoint", job.entrypoint},
                      {"X-Pgq-Headers", job.headers},
                      {"X-Pgq-Attempts", std::to_string(job.attempts)}};
  inv.stop = ctx.cancellation;
  inv.label = "job " + std::to_string(job.id) + " (" + job.entrypoint + ")";
  return inv;
}

Invocation ForSchedule(const ScheduleContext& ctx) {
  Invocation inv;
  inv.headers_json = "{}";
  inv.env = {{"PGQ_SCHEDULE", ctx.schedule.entrypoint}};
  inv.http_headers = {{"X-Pgq-Schedule", ctx.schedule.entrypoint}};
  inv.label = "schedule " + ctx.schedule.entrypoint;
  return inv;  // no payload, no stop token
}

}  // namespace pgq::worker
