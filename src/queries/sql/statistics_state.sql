-- statistics_state: how far the planner's statistics of the queue table are
-- behind, and whether this role may refresh them (owner, database owner or
-- superuser).

SELECT c.reltuples::bigint AS reltuples, COALESCE(st.n_mod_since_analyze, 0) AS changed,
       (pg_has_role(c.relowner, 'MEMBER')
        OR (SELECT pg_has_role(d.datdba, 'MEMBER') FROM pg_database d
            WHERE d.datname = current_database())
        OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user))
       AS may_analyze
FROM pg_class c LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
WHERE c.oid = {queue_table_literal}::regclass
