-- reindex_unlock: releases the lock reindex_try_lock.sql took.

SELECT pg_advisory_unlock(hashtext({log_table_literal}), hashtext('pgq reindex')) AS released
