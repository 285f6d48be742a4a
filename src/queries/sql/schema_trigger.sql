-- schema_trigger: the queue table's change notifications (see
-- schema_trigger_function.sql). {trigger} is unqualified: a trigger lives in
-- its table's schema.

CREATE TRIGGER {trigger}
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {queue_table}
EXECUTE FUNCTION {function}();
