-- schema_drop_trigger: the first half of replacing the queue table's trigger;
-- `pgq migrate` sends it with schema_trigger.sql as one short transaction.

DROP TRIGGER IF EXISTS {trigger} ON {queue_table};
