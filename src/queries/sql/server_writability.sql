-- server_writability: whether the session can take the queue's writes, and
-- which server it reached. A hot standby (pg_is_in_recovery()) or a server
-- whose transactions default to read-only fails every claim and completion
-- with SQLSTATE 25006, so readiness asks on its lease check: a worker there is
-- never ready. inet_server_addr() is NULL over a unix socket. No parameters,
-- no object names.

SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('transaction_read_only') AS read_only,
       COALESCE(host(inet_server_addr()) || ':' || inet_server_port(), 'local socket') AS server
