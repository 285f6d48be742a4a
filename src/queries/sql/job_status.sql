-- job_status: the latest log status of each job $1.

SELECT DISTINCT ON (job_id) job_id, status::text AS status FROM {log_table}
WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, created DESC, id DESC
