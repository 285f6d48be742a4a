-- delete_log: the log rows of the entrypoints $1.

DELETE FROM {log_table} WHERE entrypoint = ANY($1::text[])
