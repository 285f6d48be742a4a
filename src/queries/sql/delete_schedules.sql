-- delete_schedules: the schedules with the ids $1 or the entrypoints $2.

DELETE FROM {schedules_table} WHERE id = ANY($1::bigint[]) OR entrypoint = ANY($2::text[])
