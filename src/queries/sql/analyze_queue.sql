-- analyze_queue: ANALYZE of the queue table when at least {min_changes} rows
-- (and at least its estimated row count) changed since the last one.
-- Workers that find the statistics stale at the same moment queue up on an
-- advisory lock (two-key space, apart from the entrypoint locks) and re-check,
-- so one ANALYZE serves them all and none claims with a stale plan meanwhile.
-- A plain ANALYZE rather than SKIP_LOCKED: an autovacuum holding the table's
-- lock yields to it after deadlock_timeout. The lock waits are bounded (an
-- anti-wraparound vacuum does not yield): the caller's flusher also writes
-- completions and heartbeats.
--   {min_changes}: written in (a DO block takes no parameters).

DO $pgq$
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  PERFORM pg_advisory_xact_lock(hashtext({queue_table_literal}), hashtext('pgq analyze'));
  IF (SELECT COALESCE(st.n_mod_since_analyze, 0) >= greatest({min_changes}, c.reltuples)
      FROM pg_class c LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
      WHERE c.oid = {queue_table_literal}::regclass) THEN
    ANALYZE {queue_table};
  END IF;
END
$pgq$
