-- queue_lag: seconds the oldest eligible queued job of each entrypoint has waited.

SELECT entrypoint, EXTRACT(EPOCH FROM NOW() - min(execute_after))::float8 AS lag FROM {queue_table}
WHERE status = 'queued' AND execute_after <= NOW() GROUP BY entrypoint
