-- reindex_try_lock: the fleet-wide reindex lock (RetentionQueries::
-- ReindexBloated), a session-level advisory lock in the two-key space keyed by
-- the log table, so one process rebuilds indexes at a time; never waited for.
-- Answers `won`. Released by reindex_unlock.sql on the same connection.

SELECT pg_try_advisory_lock(hashtext({log_table_literal}), hashtext('pgq reindex')) AS won
