-- schema_status_type: the job status enum, labels in PgQueuer's order.

CREATE TYPE {status_type} AS ENUM ('queued', 'picked', 'successful', 'exception', 'canceled', 'deleted', 'failed');
