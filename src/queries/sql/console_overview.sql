-- console_overview: the console's headline numbers, from the queue table in
-- one scan: jobs queued (eligible now or later), picked and held ('failed'),
-- and how long the longest-waiting eligible queued job has waited, in
-- seconds (NULL when no queued job is eligible). No parameters.

SELECT count(*) FILTER (WHERE j.status = 'queued') AS queued,
       count(*) FILTER (WHERE j.status = 'picked') AS picked,
       count(*) FILTER (WHERE j.status = 'failed') AS failed,
       EXTRACT(EPOCH FROM NOW() - min(j.execute_after)
           FILTER (WHERE j.status = 'queued' AND j.execute_after <= NOW()))::float8
           AS oldest_wait_s
FROM {queue_table} AS j
