-- delete_statistics: the statistics rows of the entrypoints $1.

DELETE FROM {statistics_table} WHERE entrypoint = ANY($1::text[])
