-- delete_schedules_named: the schedules of the entrypoint $1.

DELETE FROM {schedules_table} WHERE entrypoint = $1
