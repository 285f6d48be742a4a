#include "queries/statements.h"

#include "sql/literals.h"

namespace pgq::detail {
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
//   gated:   $1 batch, $2 entrypoints, $3 limits (0 = none), $4 worker id,
//            $5 per-worker cap, $6 heartbeat timeout.
//   ungated: {batch}, {entrypoints} and {heartbeat_timeout}, written in as
//            literals by JobQueries::Dequeue, and $1 worker id; for when no
//            entrypoint has a limit and there is no cap. The counts of the
//            gated form could not change the outcome then, and they cost one
//            visit per job in flight across the fleet per claim. The literals
//            let PostgreSQL's plan cache settle on one generic plan (the worker
//            id only fills a column, so it cannot change the plan). With them
//            bound it kept choosing custom plans (a bound LIMIT is estimated at
//            a tenth of the table, a bound array at ten entrypoints) and planned
//            every claim: 0.4 of 0.8 ms per claim of 10, 1 ms per claim of 500.
std::string ClaimStatement(const DBSettings& s, bool gated) {
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

// ANALYZE of the queue table when enough rows changed ({min_changes}).
std::string AnalyzeStatement(const DBSettings& s) {
  const std::string q = s.QueueTable();
  // Workers that find the statistics stale at the same moment queue up on an
  // advisory lock (two-key space, apart from the entrypoint locks) and
  // re-check, so one ANALYZE serves them all and none claims with a stale
  // plan meanwhile. A plain ANALYZE rather than SKIP_LOCKED: an autovacuum
  // holding the table's lock yields to it after deadlock_timeout. The lock
  // waits are bounded (an anti-wraparound vacuum does not yield): the
  // caller's flusher also writes completions and heartbeats.
  return "DO $pgq$\nBEGIN\n"
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
}

}  // namespace

SqlText::SqlText(const DBSettings& s)
    : dequeue_ungated(ClaimStatement(s, /*gated=*/false)), analyze_queue(AnalyzeStatement(s)) {
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

  dequeue = ClaimStatement(s, /*gated=*/true);

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


}  // namespace pgq::detail
