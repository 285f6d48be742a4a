-- peek_schedules: every schedule, least recently run first.

SELECT s.id, s.expression, s.entrypoint, (EXTRACT(EPOCH FROM s.heartbeat) * 1000000)::bigint AS heartbeat_us, (EXTRACT(EPOCH FROM s.created) * 1000000)::bigint AS created_us, (EXTRACT(EPOCH FROM s.updated) * 1000000)::bigint AS updated_us, (EXTRACT(EPOCH FROM s.next_run) * 1000000)::bigint AS next_run_us, (EXTRACT(EPOCH FROM s.last_run) * 1000000)::bigint AS last_run_us, s.status::text AS status FROM {schedules_table} AS s ORDER BY s.last_run ASC NULLS FIRST, s.id
