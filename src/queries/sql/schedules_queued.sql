-- schedules_queued: the schedules $1 ran: back to 'queued', last run now.

UPDATE {schedules_table} SET status = 'queued', last_run = NOW(), updated = NOW() WHERE id = ANY($1::bigint[])
