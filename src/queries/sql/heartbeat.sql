-- heartbeat: the jobs $1 are still being worked on.

UPDATE {queue_table} SET heartbeat = NOW() WHERE id = ANY($1::bigint[])
