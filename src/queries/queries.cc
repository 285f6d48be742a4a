#include "pgq/queries.h"

#include <algorithm>
#include <ctime>
#include <set>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "pgq/error.h"
#include "queries/events.h"
#include "sql/sql_text.h"

namespace pgq {

std::string_view ToString(JobStatus status) noexcept {
  switch (status) {
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kPicked:
      return "picked";
    case JobStatus::kSuccessful:
      return "successful";
    case JobStatus::kException:
      return "exception";
    case JobStatus::kCanceled:
      return "canceled";
    case JobStatus::kDeleted:
      return "deleted";
    case JobStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

JobStatus ParseJobStatus(std::string_view text) {
  for (auto s : {JobStatus::kQueued, JobStatus::kPicked, JobStatus::kSuccessful,
                 JobStatus::kException, JobStatus::kCanceled, JobStatus::kDeleted,
                 JobStatus::kFailed}) {
    if (ToString(s) == text) return s;
  }
  throw LogicError("unknown job status \"" + std::string(text) + "\"");
}

namespace detail {

// Every statement the queries run, rendered once for a DBSettings.
struct SqlText {
  explicit SqlText(const DBSettings& s);
  std::string enqueue_raise, enqueue_skip, live_dedupe_keys, queue_size;
  std::string dequeue, dequeue_ungated, complete, retry, release, requeue, list_failed_newest,
      list_failed_oldest, heartbeat;
  std::string queue_probe, job_status, queue_lag;
  std::string aggregate_locked, aggregate_unlocked, log_statistics;
  std::string statistics_state, analyze_queue;
  std::string delete_entrypoints, truncate_queue, delete_stats, truncate_stats, delete_log,
      truncate_log;
  std::string insert_schedules, fetch_schedules, schedules_queued, schedule_heartbeat,
      peek_schedules, delete_schedules, truncate_schedules, delete_schedules_named;
};

namespace {

std::string Epoch(const std::string& column) {
  return "(EXTRACT(EPOCH FROM " + column + ") * 1000000)::bigint";
}

// The select list every Job is parsed from (see ParseJobs).
std::string JobColumns(const std::string& t) {
  return t + ".id, " + t + ".priority, " + t + ".queue_manager_id::text AS queue_manager_id, " +
         Epoch(t + ".created") + " AS created_us, " + Epoch(t + ".updated") + " AS updated_us, " +
         Epoch(t + ".heartbeat") + " AS heartbeat_us, " + Epoch(t + ".execute_after") +
         " AS execute_after_us, " + t + ".status::text AS status, " + t + ".entrypoint, " + t +
         ".dedupe_key, " + t + ".payload, " + t + ".headers::text AS headers, " + t + ".attempts";
}

std::string ScheduleColumns(const std::string& t) {
  return t + ".id, " + t + ".expression, " + t + ".entrypoint, " + Epoch(t + ".heartbeat") +
         " AS heartbeat_us, " + Epoch(t + ".created") + " AS created_us, " +
         Epoch(t + ".updated") + " AS updated_us, " + Epoch(t + ".next_run") +
         " AS next_run_us, " + Epoch(t + ".last_run") + " AS last_run_us, " + t +
         ".status::text AS status";
}

std::string Aggregate(const DBSettings& s, bool locked) {
  const std::string stats = s.StatisticsTable();
  // Same lock key as PgQueuer: hashtext of the (qualified) statistics table
  // name, so Python and C++ aggregators serialise with each other.
  const std::string guard =
      locked ? "pg_try_advisory_xact_lock(hashtext(" + QuoteLiteral(stats) + "))" : "TRUE";
  return "WITH guard AS MATERIALIZED (SELECT " + guard +
         " AS won),\n"
         "flagged AS (\n"
         "    UPDATE " +
         s.LogTable() +
         " SET aggregated = TRUE\n"
         "    WHERE NOT aggregated AND (SELECT won FROM guard)\n"
         "    RETURNING entrypoint, priority, status, created\n"
         "), counted AS (\n"
         "    INSERT INTO " +
         stats +
         " (count, created, entrypoint, priority, status)\n"
         "    SELECT count(*), date_trunc('sec', created), entrypoint, priority, status\n"
         "    FROM flagged GROUP BY entrypoint, priority, status, date_trunc('sec', created)\n"
         "    ON CONFLICT (priority, DATE_TRUNC('sec', created AT TIME ZONE 'UTC'), status, "
         "entrypoint)\n"
         "    DO UPDATE SET count = " +
         stats +
         ".count + EXCLUDED.count\n"
         ")\n"
         "SELECT won FROM guard";
}

// `sql` with every `placeholder` replaced by `text` (SQL, e.g. a quoted
// literal), for the few values written into a statement instead of bound
// (see Dequeue, below).
std::string WithText(std::string sql, std::string_view placeholder, std::string_view text) {
  for (auto at = sql.find(placeholder); at != std::string::npos;
       at = sql.find(placeholder, at + text.size())) {
    sql.replace(at, placeholder.size(), text);
  }
  return sql;
}

std::string WithLiteral(std::string sql, std::string_view placeholder, std::int64_t value) {
  return WithText(std::move(sql), placeholder, std::to_string(value));
}

// Dequeue (spec 3.2).
//   gated:   $1 batch, $2 entrypoints, $3 limits (0 = none), $4 worker id,
//            $5 per-worker cap, $6 heartbeat timeout.
//   ungated: {batch}, {entrypoints} and {heartbeat_timeout}, written in as
//            literals by Queries::Dequeue, and $1 worker id; for when no
//            entrypoint has a limit and there is no cap. The counts of the
//            gated form could not change the outcome then, and they cost one
//            visit per job in flight across the fleet per claim. The literals
//            let PostgreSQL's plan cache settle on one generic plan (the worker
//            id only fills a column, so it cannot change the plan). With them
//            bound it kept choosing custom plans (a bound LIMIT is estimated at
//            a tenth of the table, a bound array at ten entrypoints) and planned
//            every claim: 0.4 of 0.8 ms per claim of 10, 1 ms per claim of 500.
std::string Dequeue(const DBSettings& s, bool gated) {
  const std::string q = s.QueueTable();
  const std::string batch = gated ? "$1::bigint" : "{batch}::bigint";
  const std::string entrypoints = gated ? "$2::text[]" : "{entrypoints}::text[]";
  const std::string worker = gated ? "$4::uuid" : "$1::uuid";
  const std::string timeout = gated ? "$6::interval" : "{heartbeat_timeout}::interval";
  const std::string below_cap = "(SELECT n FROM worker_load) < $5::bigint";
  std::string sql = "WITH ";
  if (gated) {
    sql += "params AS (\n"
           "    SELECT * FROM unnest($2::text[], $3::bigint[]) AS p(entrypoint, concurrency_limit)\n"
           "), picked AS (\n"
           "    SELECT entrypoint, count(*) AS n FROM " + q + "\n"
           "    WHERE queue_manager_id IS NOT NULL AND entrypoint = ANY($2::text[])\n"
           "    GROUP BY entrypoint\n"
           "), worker_load AS (\n"
           "    SELECT count(*) AS n FROM " + q + "\n"
           "    WHERE queue_manager_id = $4::uuid AND entrypoint = ANY($2::text[])\n"
           "), available AS (\n"
           "    SELECT p.entrypoint,\n"
           "           CASE WHEN p.concurrency_limit > 0\n"
           "                THEN p.concurrency_limit - COALESCE(k.n, 0) END AS remaining\n"
           "    FROM params p LEFT JOIN picked k ON k.entrypoint = p.entrypoint\n"
           "    WHERE p.concurrency_limit <= 0 OR COALESCE(k.n, 0) < p.concurrency_limit\n"
           "), ";
  } else {
    sql += "available AS (\n"
           "    SELECT entrypoint FROM unnest(" + entrypoints + ") AS p(entrypoint)\n"
           "), ";
  }
  sql += "next_queued AS (\n"
         "    SELECT j.id, j.priority, FALSE AS stale FROM available a\n"
         "    CROSS JOIN LATERAL (\n"
         "        SELECT id, priority FROM " + q + "\n"
         "        WHERE entrypoint = a.entrypoint AND status = 'queued' AND execute_after < NOW()\n"
         "        ORDER BY priority DESC, id ASC\n"
         "        LIMIT " +
         (gated ? "LEAST($1::bigint, COALESCE(a.remaining, $1::bigint))" : batch) +
         "\n"
         "        FOR UPDATE SKIP LOCKED\n"
         "    ) j\n" +
         (gated ? "    WHERE " + below_cap + "\n" : "") +
         "), next_stale AS (\n"
         "    SELECT id, priority, TRUE AS stale FROM " + q + "\n"
         "    WHERE entrypoint = ANY(" + entrypoints + ") AND status = 'picked'\n"
         "      AND heartbeat < NOW() - " + timeout + " AND execute_after < NOW()\n"
         // Implied by the line above (a pick sets updated = heartbeat, and
         // heartbeats only move forward): it lets *_updated_id_id1_idx skip
         // the healthy picked rows instead of visiting every one per claim.
         "      AND updated < NOW() - " + timeout + "\n" +
         (gated ? "      AND " + below_cap + "\n" : "") +
         "    ORDER BY priority DESC, id ASC\n"
         "    LIMIT " + batch + "\n"
         "    FOR UPDATE SKIP LOCKED\n"
         "), eligible AS (\n"
         "    SELECT id, stale FROM (\n"
         "        SELECT id, priority, stale FROM next_queued\n"
         "        UNION ALL\n"
         "        SELECT id, priority, stale FROM next_stale\n"
         "    ) c\n"
         "    ORDER BY priority DESC, id ASC\n" +
         (gated ? "    LIMIT GREATEST(0, LEAST($1::bigint, $5::bigint - (SELECT n FROM worker_load)))\n"
                : "    LIMIT " + batch + "\n") +
         "), claimed AS (\n"
         "    UPDATE " + q + " AS j\n"
         "    SET status = 'picked', updated = NOW(), heartbeat = NOW(), queue_manager_id = " +
         worker + "\n"
         // An id array (not a join): the planner would hash the whole table for
         // a join, since it cannot tell that `eligible` holds only a batch.
         "    WHERE j.id = ANY(ARRAY(SELECT id FROM eligible))\n"
         "    RETURNING j.*\n"
         "), log_pick AS (\n"
         "    INSERT INTO " + s.LogTable() + " (job_id, status, entrypoint, priority)\n"
         "    SELECT id, 'picked', entrypoint, priority FROM claimed\n"
         ")\n"
         "SELECT " + JobColumns("claimed") + ", eligible.stale AS rescued,\n       " +
         Epoch("NOW() - claimed.created") +
         " AS waited_us\nFROM claimed JOIN eligible ON eligible.id = claimed.id\n"
         "ORDER BY claimed.priority DESC, claimed.id ASC";
  return sql;
}

}  // namespace

SqlText::SqlText(const DBSettings& s) {
  const std::string q = s.QueueTable();
  const std::string log = s.LogTable();
  const std::string st = s.StatusType();
  const std::string dedupe_predicate =
      "((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL))";

  auto enqueue = [&](bool skip) {
    return "WITH input AS MATERIALIZED (\n"
           // The sequence is looked up once (an init plan), not per row.
           "    SELECT nextval((SELECT pg_get_serial_sequence(" +
           QuoteLiteral(q) +
           ", 'id'))::regclass) AS id, t.*\n"
           "    FROM unnest($1::int4[], $2::text[], $3::bytea[], $4::interval[], $5::text[], "
           "$6::jsonb[])\n"
           "         WITH ORDINALITY AS t(priority, entrypoint, payload, delay, dedupe_key, "
           "headers, ord)\n"
           "), inserted AS (\n"
           "    INSERT INTO " +
           q +
           " (id, priority, entrypoint, payload, execute_after, dedupe_key, headers, status)\n"
           "    SELECT id, priority, entrypoint, payload, NOW() + COALESCE(delay, INTERVAL '0'),\n"
           "           dedupe_key, COALESCE(headers, 'null'::jsonb), 'queued'\n"
           "    FROM input ORDER BY ord\n" +
           (skip ? "    ON CONFLICT (dedupe_key) WHERE " + dedupe_predicate + " DO NOTHING\n"
                 : std::string()) +
           "    RETURNING id, entrypoint, priority\n"
           "), logged AS (\n"
           "    INSERT INTO " +
           log +
           " (job_id, status, entrypoint, priority)\n"
           "    SELECT id, 'queued', entrypoint, priority FROM inserted\n"
           ")\n"
           "SELECT input.ord, inserted.id FROM input LEFT JOIN inserted ON inserted.id = "
           "input.id\n"
           "ORDER BY input.ord";
  };
  enqueue_raise = enqueue(false);
  enqueue_skip = enqueue(true);
  live_dedupe_keys = "SELECT DISTINCT dedupe_key FROM " + q +
                     " WHERE dedupe_key = ANY($1::text[]) AND status IN ('queued', 'picked')";
  queue_size = "SELECT count(*) AS count, priority, entrypoint, status::text AS status FROM " + q +
               "\nGROUP BY entrypoint, priority, status\nORDER BY count, entrypoint, priority, "
               "status";

  dequeue = Dequeue(s, /*gated=*/true);
  dequeue_ungated = Dequeue(s, /*gated=*/false);

  complete = "WITH job_status AS (\n"
             "    SELECT * FROM unnest($1::bigint[], $2::text[]::" +
             st +
             "[], $3::jsonb[]) AS t(id, status, traceback)\n"
             "), deleted AS (\n"
             "    DELETE FROM " +
             q +
             " WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status <> 'failed'))\n"
             "    RETURNING id, entrypoint, priority\n"
             "), held AS (\n"
             "    UPDATE " +
             q +
             " SET status = 'failed', updated = NOW(), queue_manager_id = NULL\n"
             "    WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status = 'failed'))\n"
             "    RETURNING id, entrypoint, priority\n"
             ")\n"
             "INSERT INTO " +
             log +
             " (job_id, status, entrypoint, priority, traceback)\n"
             "SELECT js.id, js.status, r.entrypoint, r.priority, js.traceback\n"
             "FROM job_status js\n"
             "JOIN (SELECT * FROM deleted UNION ALL SELECT * FROM held) r ON r.id = js.id";

  retry = "WITH retried AS (\n"
          "    UPDATE " +
          q +
          " SET status = 'queued', execute_after = NOW() + $2::interval,\n"
          "        attempts = attempts + 1, updated = NOW(), queue_manager_id = NULL\n"
          "    WHERE id = $1::bigint\n"
          "    RETURNING id, entrypoint, priority\n"
          ")\n"
          "INSERT INTO " +
          log +
          " (job_id, status, entrypoint, priority, traceback)\n"
          "SELECT id, 'queued', entrypoint, priority, $3::jsonb FROM retried";

  release = "WITH released AS (\n"
            "    UPDATE " +
            q +
            " SET status = 'queued', updated = NOW(), queue_manager_id = NULL\n"
            "    WHERE id = ANY($1::bigint[]) AND status = 'picked' AND queue_manager_id = "
            "$2::uuid\n"
            "    RETURNING id, entrypoint, priority\n"
            ")\n"
            "INSERT INTO " +
            log +
            " (job_id, status, entrypoint, priority)\n"
            "SELECT id, 'queued', entrypoint, priority FROM released";

  requeue = "WITH requeued AS (\n"
            "    UPDATE " +
            q +
            " SET status = 'queued', execute_after = NOW(), updated = NOW(),\n"
            "        attempts = 0, queue_manager_id = NULL\n"
            "    WHERE id = ANY($1::bigint[]) AND status = 'failed'\n"
            "    RETURNING id, entrypoint, priority\n"
            ")\n"
            "INSERT INTO " +
            log +
            " (job_id, status, entrypoint, priority)\n"
            "SELECT id, 'queued', entrypoint, priority FROM requeued";

  const std::string list_failed = "SELECT " + JobColumns("j") + " FROM " + q +
                                  " AS j WHERE j.status = 'failed' ORDER BY j.created ";
  list_failed_newest = list_failed + "DESC, j.id DESC LIMIT $1::bigint";
  list_failed_oldest = list_failed + "ASC, j.id ASC LIMIT $1::bigint";
  heartbeat = "UPDATE " + q + " SET heartbeat = NOW() WHERE id = ANY($1::bigint[])";

  // One round trip answers all the idle worker asks: is anything eligible
  // now, is anything queued at all, and when does the next deferred job
  // become eligible. Each part is an index probe of at most one row per
  // entrypoint (the partial *_ep_ea_idx).
  queue_probe =
      "SELECT EXISTS (SELECT 1 FROM " + q +
      " WHERE entrypoint = ANY($1::text[]) AND status = 'queued'"
      " AND execute_after <= NOW()) AS eligible,\n"
      "       EXISTS (SELECT 1 FROM " + q +
      " WHERE entrypoint = ANY($1::text[]) AND status = 'queued') AS queued,\n"
      "       (SELECT " + Epoch("min(n.execute_after) - NOW()") +
      "\n        FROM unnest($1::text[]) AS e(entrypoint)\n"
      "        CROSS JOIN LATERAL (\n"
      "            SELECT execute_after FROM " + q +
      "\n            WHERE entrypoint = e.entrypoint AND status = 'queued' AND execute_after > NOW()\n"
      "            ORDER BY execute_after LIMIT 1\n"
      "        ) n) AS eta_us";
  job_status = "SELECT DISTINCT ON (job_id) job_id, status::text AS status FROM " + log +
               "\nWHERE job_id = ANY($1::bigint[]) ORDER BY job_id, created DESC, id DESC";

  queue_lag = "SELECT entrypoint, EXTRACT(EPOCH FROM NOW() - min(execute_after))::float8 AS lag FROM " +
              q + "\nWHERE status = 'queued' AND execute_after <= NOW() GROUP BY entrypoint";

  // How far the planner's statistics of the queue table are behind, and
  // whether this role may refresh them (owner, database owner or superuser).
  statistics_state =
      "SELECT c.reltuples::bigint AS reltuples, COALESCE(st.n_mod_since_analyze, 0) AS changed,\n"
      "       (pg_has_role(c.relowner, 'MEMBER')\n"
      "        OR (SELECT pg_has_role(d.datdba, 'MEMBER') FROM pg_database d\n"
      "            WHERE d.datname = current_database())\n"
      "        OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user))\n"
      "       AS may_analyze\n"
      "FROM pg_class c LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid\n"
      "WHERE c.oid = " +
      QuoteLiteral(q) + "::regclass";
  // Workers that find the statistics stale at the same moment queue up on an
  // advisory lock (two-key space, apart from the entrypoint locks) and
  // re-check, so one ANALYZE serves them all and none claims with a stale
  // plan meanwhile. A plain ANALYZE rather than SKIP_LOCKED: an autovacuum
  // holding the table's lock yields to it after deadlock_timeout. The lock
  // waits are bounded (an anti-wraparound vacuum does not yield): the
  // caller's flusher also writes completions and heartbeats.
  analyze_queue = "DO $pgq$\nBEGIN\n"
                  "  PERFORM set_config('lock_timeout', '2s', true);\n"
                  "  PERFORM pg_advisory_xact_lock(hashtext(" + QuoteLiteral(q) +
                  "), hashtext('pgq analyze'));\n"
                  "  IF (SELECT COALESCE(st.n_mod_since_analyze, 0) >= greatest({min_changes}, "
                  "c.reltuples)\n"
                  "      FROM pg_class c LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid\n"
                  "      WHERE c.oid = " + QuoteLiteral(q) + "::regclass) THEN\n"
                  "    ANALYZE " + q + ";\n"
                  "  END IF;\n"
                  "END\n$pgq$";

  aggregate_locked = Aggregate(s, true);
  aggregate_unlocked = Aggregate(s, false);
  log_statistics = "SELECT count, " + Epoch("created") +
                   " AS created_us, entrypoint, priority, status::text AS status\n"
                   "FROM " +
                   s.StatisticsTable() +
                   "\nWHERE ($2::interval IS NULL OR created > NOW() - $2::interval)\n"
                   "ORDER BY id DESC LIMIT $1::bigint";

  delete_entrypoints = "WITH deleted AS (\n    DELETE FROM " + q +
                       " WHERE entrypoint = ANY($1::text[])\n"
                       "    RETURNING id, entrypoint, priority\n)\nINSERT INTO " +
                       log +
                       " (job_id, status, entrypoint, priority)\n"
                       "SELECT id, 'deleted', entrypoint, priority FROM deleted";
  truncate_queue = "TRUNCATE " + q;
  delete_stats = "DELETE FROM " + s.StatisticsTable() + " WHERE entrypoint = ANY($1::text[])";
  truncate_stats = "TRUNCATE " + s.StatisticsTable();
  delete_log = "DELETE FROM " + log + " WHERE entrypoint = ANY($1::text[])";
  truncate_log = "TRUNCATE " + log;

  const std::string sched = s.SchedulesTable();
  insert_schedules =
      "INSERT INTO " + sched +
      " (expression, entrypoint, next_run, status)\n"
      "SELECT expression, entrypoint, date_trunc('seconds', NOW() + delay), 'queued'\n"
      "FROM unnest($1::text[], $2::text[], $3::interval[]) AS t(entrypoint, expression, delay)\n"
      "ON CONFLICT (expression, entrypoint) DO NOTHING";
  fetch_schedules =
      "WITH params AS (\n"
      "    SELECT * FROM unnest($1::text[], $2::text[], $3::interval[])\n"
      "        AS t(entrypoint, expression, delay)\n"
      "), due AS (\n"
      "    SELECT s.id, p.delay FROM " +
      sched +
      " s\n"
      "    JOIN params p ON p.entrypoint = s.entrypoint AND p.expression = s.expression\n"
      "    WHERE (s.status = 'queued' AND s.next_run <= NOW())\n"
      "       OR (s.status = 'picked' AND NOW() - s.heartbeat > INTERVAL '30 seconds')\n"
      "    FOR UPDATE OF s SKIP LOCKED\n"
      ")\n"
      "UPDATE " +
      sched +
      " AS s SET status = 'picked', updated = NOW(), heartbeat = NOW(),\n"
      "    next_run = date_trunc('seconds', NOW() + due.delay)\n"
      "FROM due WHERE s.id = due.id\n"
      "RETURNING " +
      ScheduleColumns("s");
  schedules_queued = "UPDATE " + sched +
                     " SET status = 'queued', last_run = NOW(), updated = NOW()"
                     " WHERE id = ANY($1::bigint[])";
  schedule_heartbeat = "UPDATE " + sched +
                       " SET heartbeat = NOW(), updated = NOW() WHERE id = ANY($1::bigint[])";
  peek_schedules = "SELECT " + ScheduleColumns("s") + " FROM " + sched +
                   " AS s ORDER BY s.last_run ASC NULLS FIRST, s.id";
  delete_schedules = "DELETE FROM " + sched +
                     " WHERE id = ANY($1::bigint[]) OR entrypoint = ANY($2::text[])";
  truncate_schedules = "TRUNCATE " + sched;
  delete_schedules_named = "DELETE FROM " + sched + " WHERE entrypoint = $1";
}

}  // namespace detail

namespace {

using detail::ArrayLiteral;

Clock::time_point Micros(const Rows& rows, std::size_t r, std::size_t c) {
  return detail::FromEpochMicros(*rows.At(r, c));
}

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
    job.id = detail::ParseInt64(*rows.At(r, id));
    job.priority = static_cast<std::int32_t>(detail::ParseInt64(*rows.At(r, priority)));
    job.queue_manager_id = rows.At(r, qm).value_or("");
    job.created = Micros(rows, r, created);
    job.updated = Micros(rows, r, updated);
    job.heartbeat = Micros(rows, r, heartbeat);
    job.execute_after = Micros(rows, r, execute_after);
    job.status = ParseJobStatus(*rows.At(r, status));
    job.entrypoint = *rows.At(r, entrypoint);
    job.dedupe_key = rows.At(r, dedupe);
    if (const auto& p = rows.At(r, payload)) job.payload = detail::DecodeBytea(*p);
    job.headers = rows.At(r, headers).value_or("null");
    job.attempts = static_cast<std::int32_t>(detail::ParseInt64(*rows.At(r, attempts)));
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
    row.heartbeat = detail::FromEpochMicros(rows.Text(r, "heartbeat_us"));
    row.created = detail::FromEpochMicros(rows.Text(r, "created_us"));
    row.updated = detail::FromEpochMicros(rows.Text(r, "updated_us"));
    row.next_run = detail::FromEpochMicros(rows.Text(r, "next_run_us"));
    if (const auto& last = rows.At(r, "last_run_us")) {
      row.last_run = detail::FromEpochMicros(*last);
    }
    row.status = ParseJobStatus(rows.Text(r, "status"));
    out.push_back(std::move(row));
  }
  return out;
}

// Headers must be a JSON object or null: anything else breaks Python
// workers' validation of the whole dequeue batch (spec 1.12).
std::string CheckedHeaders(const std::optional<std::string>& headers) {
  if (!headers) return "null";
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(*headers);
  } catch (const nlohmann::json::exception& e) {
    throw LogicError(std::string("job headers are not valid JSON: ") + e.what());
  }
  if (!parsed.is_object() && !parsed.is_null()) {
    throw LogicError("job headers must be a JSON object or null, got " +
                     std::string(parsed.type_name()));
  }
  return parsed.dump();
}

std::vector<std::string> KeysFromMessage(const std::string& message) {
  // "Key (dedupe_key)=(k1) already exists."
  std::vector<std::string> keys;
  const std::string marker = "Key (dedupe_key)=(";
  auto pos = message.find(marker);
  if (pos != std::string::npos) {
    pos += marker.size();
    const auto end = message.find(") already exists", pos);
    if (end != std::string::npos) keys.push_back(message.substr(pos, end - pos));
  }
  return keys;
}

}  // namespace

std::string CancellationEventJson(std::string_view channel, const std::vector<JobId>& ids) {
  nlohmann::ordered_json extra;
  extra["ids"] = ids;
  return detail::EventJson(channel, "cancellation_event", extra);
}

// --------------------------------------------------------- ProducerQueries

ProducerQueries::ProducerQueries(Executor& executor, DBSettings settings)
    : executor_(executor), settings_(std::move(settings)) {
  settings_.Validate();
  sql_ = std::make_shared<const detail::SqlText>(settings_);
}

JobId ProducerQueries::Enqueue(const NewJob& job) {
  return *Enqueue(std::vector<NewJob>{job}, OnConflict::kRaise).front();
}

std::vector<std::optional<JobId>> ProducerQueries::Enqueue(const std::vector<NewJob>& jobs,
                                                           OnConflict on_conflict) {
  if (jobs.empty()) return {};
  std::vector<std::int64_t> priorities;
  std::vector<std::string> entrypoints;
  std::vector<std::optional<std::string>> payloads, delays, keys, headers;
  priorities.reserve(jobs.size());
  entrypoints.reserve(jobs.size());
  payloads.reserve(jobs.size());
  delays.reserve(jobs.size());
  keys.reserve(jobs.size());
  headers.reserve(jobs.size());
  for (const auto& job : jobs) {
    if (job.entrypoint.empty()) throw LogicError("a job needs an entrypoint");
    priorities.push_back(job.priority);
    entrypoints.push_back(job.entrypoint);
    payloads.push_back(job.payload ? std::optional(detail::ByteaHex(*job.payload)) : std::nullopt);
    delays.push_back(detail::IntervalLiteral(job.execute_after));
    keys.push_back(job.dedupe_key);
    headers.push_back(CheckedHeaders(job.headers));
  }
  const Params params{ArrayLiteral(priorities), ArrayLiteral(entrypoints), ArrayLiteral(payloads),
                      ArrayLiteral(delays),     ArrayLiteral(keys),        ArrayLiteral(headers)};
  Rows rows;
  try {
    rows = executor_.Fetch(
        on_conflict == OnConflict::kSkip ? sql_->enqueue_skip : sql_->enqueue_raise, params);
  } catch (const DatabaseError& e) {
    if (e.sqlstate() != "23505") throw;
    // Report every key that blocked the batch: repeats inside it and live
    // jobs that hold one. The follow-up query fails inside an aborted
    // caller transaction; the key from the server message remains.
    std::set<std::string> conflicting;
    for (auto& key : KeysFromMessage(e.what())) conflicting.insert(std::move(key));
    std::set<std::string> seen;
    std::vector<std::string> batch_keys;
    for (const auto& key : keys) {
      if (!key) continue;
      if (!seen.insert(*key).second) conflicting.insert(*key);
      batch_keys.push_back(*key);
    }
    try {
      auto live = executor_.Fetch(sql_->live_dedupe_keys, {ArrayLiteral(batch_keys)});
      for (std::size_t r = 0; r < live.size(); ++r) conflicting.insert(live.Text(r, "dedupe_key"));
    } catch (const Error&) {
    }
    std::vector<std::string> list(conflicting.begin(), conflicting.end());
    std::string joined;
    for (const auto& key : list) joined += (joined.empty() ? "" : ", ") + key;
    throw DuplicateJobError("duplicate dedupe key(s), nothing was enqueued: " + joined,
                            std::move(list));
  }
  std::vector<std::optional<JobId>> ids;
  ids.reserve(rows.size());
  const std::size_t id_col = rows.Index("id");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& cell = rows.At(r, id_col);
    ids.push_back(cell ? std::optional(detail::ParseInt64(*cell)) : std::nullopt);
  }
  return ids;
}

std::vector<QueueCount> ProducerQueries::QueueSize() {
  auto rows = executor_.Fetch(sql_->queue_size);
  std::vector<QueueCount> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "entrypoint"), static_cast<std::int32_t>(rows.Int(r, "priority")),
                   ParseJobStatus(rows.Text(r, "status")), rows.Int(r, "count")});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> WorkerStatements(const DBSettings& settings) {
  const detail::SqlText sql(settings);
  return {{"claim", sql.dequeue_ungated}, {"claim_gated", sql.dequeue}, {"complete", sql.complete}};
}

// ----------------------------------------------------------------- Queries

Queries::Queries(Driver& driver, DBSettings settings)
    : ProducerQueries(driver, std::move(settings)), driver_(driver) {}

std::vector<Job> Queries::Dequeue(std::int64_t batch_size,
                                  const std::vector<EntrypointLimit>& entrypoints,
                                  std::string_view queue_manager_id,
                                  std::optional<std::int64_t> worker_cap,
                                  std::chrono::microseconds heartbeat_timeout) {
  if (batch_size < 1) throw LogicError("batch_size must be at least 1");
  if (entrypoints.empty()) return {};
  std::vector<std::string> names;
  std::vector<std::int64_t> limits;
  for (const auto& ep : entrypoints) {
    names.push_back(ep.name);
    limits.push_back(ep.concurrency_limit);
  }
  const bool limited = std::any_of(limits.begin(), limits.end(), [](auto l) { return l > 0; });
  if (!limited && !worker_cap) {
    // All but the worker id written in as literals (see Dequeue in the SQL
    // section); the text stays the same for the whole run.
    // The names go in last, so text inside them is never taken for a placeholder.
    std::string sql = detail::WithLiteral(sql_->dequeue_ungated, "{batch}", batch_size);
    sql = detail::WithText(std::move(sql), "{heartbeat_timeout}",
                           detail::QuoteLiteral(detail::IntervalLiteral(heartbeat_timeout)));
    sql = detail::WithText(std::move(sql), "{entrypoints}", detail::QuoteLiteral(ArrayLiteral(names)));
    return ParseJobs(driver_.Fetch(sql, {std::string(queue_manager_id)}));
  }
  Params params{std::to_string(batch_size), ArrayLiteral(names), ArrayLiteral(limits),
                std::string(queue_manager_id),
                std::to_string(worker_cap.value_or(std::numeric_limits<std::int64_t>::max())),
                detail::IntervalLiteral(heartbeat_timeout)};
  if (!limited) return ParseJobs(driver_.Fetch(sql_->dequeue, params));

  // A statement's snapshot is taken when it starts, so two dequeues racing on
  // different connections could both count the same free slot. For limited
  // entrypoints we first take a per-entrypoint transaction advisory lock in
  // its own statement, then claim with a fresh snapshot, all in one
  // implicit transaction (one round trip, committed on its own). The
  // counting rule stays PgQueuer's; only the overlap is removed.
  std::vector<std::string> locked;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (limits[i] > 0) locked.push_back(settings_.QueueTable() + ":" + names[i]);
  }
  std::string script = "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtext(e) AS k "
                       "FROM unnest(" +
                       detail::QuoteLiteral(ArrayLiteral(locked)) +
                       "::text[]) AS e ORDER BY 1) AS keys;\n" +
                       sql_->dequeue;
  // A multi-statement query cannot bind: the parameters go in as literals.
  return ParseJobs(driver_.Fetch(detail::InlineParams(script, params)));
}

void Queries::Complete(const std::vector<Completion>& completions) {
  if (completions.empty()) return;
  std::vector<std::int64_t> ids;
  std::vector<std::string> statuses;
  std::vector<std::optional<std::string>> tracebacks;
  for (const auto& c : completions) {
    ids.push_back(c.id);
    statuses.emplace_back(ToString(c.status));
    tracebacks.push_back(c.traceback);
  }
  driver_.Execute(sql_->complete,
                  {ArrayLiteral(ids), ArrayLiteral(statuses), ArrayLiteral(tracebacks)});
}

bool Queries::Retry(JobId id, std::chrono::microseconds delay,
                    std::optional<std::string> traceback) {
  return driver_.Execute(sql_->retry, {std::to_string(id), detail::IntervalLiteral(delay),
                                       std::move(traceback)}) > 0;
}

std::int64_t Queries::Release(const std::vector<JobId>& ids, std::string_view queue_manager_id) {
  if (ids.empty()) return 0;
  return driver_.Execute(sql_->release, {ArrayLiteral(ids), std::string(queue_manager_id)});
}

std::int64_t Queries::Requeue(const std::vector<JobId>& ids) {
  return driver_.Execute(sql_->requeue, {ArrayLiteral(ids)});
}

std::vector<Job> Queries::ListFailed(std::int64_t limit, bool newest_first) {
  return ParseJobs(driver_.Fetch(newest_first ? sql_->list_failed_newest : sql_->list_failed_oldest,
                                 {std::to_string(limit)}));
}

void Queries::Cancel(const std::vector<JobId>& ids) {
  if (ids.empty()) return;
  std::vector<Completion> completions;
  for (auto id : ids) completions.push_back({id, JobStatus::kCanceled, std::nullopt});
  Complete(completions);
  // NOTIFY payloads are limited to ~8000 bytes: send the ids in chunks.
  constexpr std::size_t kIdsPerEvent = 300;
  for (std::size_t i = 0; i < ids.size(); i += kIdsPerEvent) {
    std::vector<JobId> chunk(ids.begin() + static_cast<std::ptrdiff_t>(i),
                             ids.begin() + static_cast<std::ptrdiff_t>(
                                               std::min(ids.size(), i + kIdsPerEvent)));
    driver_.Notify(settings_.channel, CancellationEventJson(settings_.channel, chunk));
  }
}

void Queries::Heartbeat(const std::vector<JobId>& ids) {
  if (ids.empty()) return;
  std::vector<JobId> unique(ids);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  driver_.Execute(sql_->heartbeat, {ArrayLiteral(unique)});
}

Queries::QueueProbe Queries::ProbeQueue(const std::vector<std::string>& entrypoints) {
  auto rows = driver_.Fetch(sql_->queue_probe, {ArrayLiteral(entrypoints)});
  QueueProbe probe;
  probe.eligible = rows.Text(0, "eligible") == "t";
  probe.queued = rows.Text(0, "queued") == "t";
  if (const auto& eta = rows.At(0, "eta_us")) {
    probe.next_eta = std::chrono::microseconds(detail::ParseInt64(*eta));
  }
  return probe;
}

bool Queries::HasQueuedWork(const std::vector<std::string>& entrypoints, bool eligible_only) {
  const auto probe = ProbeQueue(entrypoints);
  return eligible_only ? probe.eligible : probe.queued;
}

std::optional<std::chrono::microseconds> Queries::NextDeferredEta(
    const std::vector<std::string>& entrypoints) {
  return ProbeQueue(entrypoints).next_eta;
}

std::vector<std::pair<JobId, JobStatus>> Queries::JobStatuses(const std::vector<JobId>& ids) {
  auto rows = driver_.Fetch(sql_->job_status, {ArrayLiteral(ids)});
  std::vector<std::pair<JobId, JobStatus>> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.emplace_back(rows.Int(r, "job_id"), ParseJobStatus(rows.Text(r, "status")));
  }
  return out;
}

std::vector<std::pair<std::string, double>> Queries::QueueLag() {
  auto rows = driver_.Fetch(sql_->queue_lag);
  std::vector<std::pair<std::string, double>> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.emplace_back(rows.Text(r, "entrypoint"), std::stod(rows.Text(r, "lag")));
  }
  return out;
}

Queries::StatisticsState Queries::QueueStatistics() {
  auto rows = driver_.Fetch(sql_->statistics_state);
  return {rows.Int(0, "reltuples"), rows.Int(0, "changed"), rows.Text(0, "may_analyze") == "t"};
}

void Queries::AnalyzeQueue(std::int64_t min_changes) {
  // A DO block takes no parameters: the one number goes in as a literal.
  driver_.Execute(
      detail::WithLiteral(sql_->analyze_queue, "{min_changes}", std::max<std::int64_t>(min_changes, 0)));
}

bool Queries::AggregateLogs() {
  return driver_.Fetch(sql_->aggregate_locked).Text(0, "won") == "t";
}

std::vector<StatisticsRow> Queries::LogStatistics(std::optional<std::int64_t> limit,
                                                  std::optional<std::chrono::seconds> last) {
  driver_.Execute(sql_->aggregate_unlocked);
  auto rows = driver_.Fetch(
      sql_->log_statistics,
      {limit ? std::optional(std::to_string(*limit)) : std::nullopt,
       last ? std::optional(detail::IntervalLiteral(*last)) : std::nullopt});
  std::vector<StatisticsRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Int(r, "count"), detail::FromEpochMicros(rows.Text(r, "created_us")),
                   rows.Text(r, "entrypoint"), static_cast<std::int32_t>(rows.Int(r, "priority")),
                   ParseJobStatus(rows.Text(r, "status"))});
  }
  return out;
}

void Queries::ClearQueue(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    driver_.Execute(sql_->truncate_queue);
  } else {
    driver_.Execute(sql_->delete_entrypoints, {ArrayLiteral(entrypoints)});
  }
}

void Queries::ClearStatistics(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    driver_.Execute(sql_->truncate_stats);
  } else {
    driver_.Execute(sql_->delete_stats, {ArrayLiteral(entrypoints)});
  }
}

void Queries::ClearLog(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    driver_.Execute(sql_->truncate_log);
  } else {
    driver_.Execute(sql_->delete_log, {ArrayLiteral(entrypoints)});
  }
}

namespace {
Params ScheduleParams(const std::vector<std::pair<std::string, std::string>>& name_expression,
                      const std::vector<std::chrono::microseconds>& delays) {
  if (name_expression.size() != delays.size()) {
    throw LogicError("schedules and delays differ in length");
  }
  std::vector<std::string> names, expressions;
  std::vector<std::optional<std::string>> intervals;
  for (std::size_t i = 0; i < delays.size(); ++i) {
    names.push_back(name_expression[i].first);
    expressions.push_back(name_expression[i].second);
    intervals.push_back(detail::IntervalLiteral(delays[i]));
  }
  return {ArrayLiteral(names), ArrayLiteral(expressions), ArrayLiteral(intervals)};
}
}  // namespace

void Queries::InsertSchedules(
    const std::vector<std::pair<std::string, std::string>>& name_expression,
    const std::vector<std::chrono::microseconds>& delays) {
  if (name_expression.empty()) return;
  driver_.Execute(sql_->insert_schedules, ScheduleParams(name_expression, delays));
}

std::vector<ScheduleRow> Queries::FetchSchedules(
    const std::vector<std::pair<std::string, std::string>>& name_expression,
    const std::vector<std::chrono::microseconds>& delays) {
  if (name_expression.empty()) return {};
  return ParseSchedules(driver_.Fetch(sql_->fetch_schedules, ScheduleParams(name_expression, delays)));
}

void Queries::SetSchedulesQueued(const std::vector<std::int64_t>& ids) {
  if (!ids.empty()) driver_.Execute(sql_->schedules_queued, {ArrayLiteral(ids)});
}

void Queries::ScheduleHeartbeat(const std::vector<std::int64_t>& ids) {
  if (!ids.empty()) driver_.Execute(sql_->schedule_heartbeat, {ArrayLiteral(ids)});
}

std::vector<ScheduleRow> Queries::PeekSchedules() {
  return ParseSchedules(driver_.Fetch(sql_->peek_schedules));
}

void Queries::DeleteSchedules(const std::vector<std::int64_t>& ids,
                              const std::vector<std::string>& names) {
  driver_.Execute(sql_->delete_schedules, {ArrayLiteral(ids), ArrayLiteral(names)});
}

void Queries::ClearSchedules() { driver_.Execute(sql_->truncate_schedules); }

void Queries::DeleteSchedulesNamed(const std::string& name) {
  driver_.Execute(sql_->delete_schedules_named, {name});
}

}  // namespace pgq
