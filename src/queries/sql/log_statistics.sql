-- log_statistics: the newest statistics rows.
--   $1 how many, $2 only rows newer than this interval ago (NULL: any age).

SELECT count, (EXTRACT(EPOCH FROM created) * 1000000)::bigint AS created_us, entrypoint, priority, status::text AS status
FROM {statistics_table}
WHERE ($2::interval IS NULL OR created > NOW() - $2::interval)
ORDER BY id DESC LIMIT $1::bigint
