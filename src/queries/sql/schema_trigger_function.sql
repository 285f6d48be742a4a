-- schema_trigger_function: the function behind the queue table's trigger. A
-- statement-level trigger: OLD and NEW are NULL, so an UPDATE never notifies;
-- INSERT, DELETE and TRUNCATE send one event per statement on the channel,
-- with PgQueuer's table_changed_event payload (the channel is written into
-- the body, so changing it means replacing the function).
--   {create}: CREATE, or CREATE OR REPLACE for the upgrade; {function}; the
--   channel as a literal, {channel_literal}.

{create} FUNCTION {function}() RETURNS TRIGGER AS $pgq$
DECLARE
    to_emit BOOLEAN := false;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD IS DISTINCT FROM NEW THEN
        to_emit := true;
    ELSIF TG_OP IN ('DELETE', 'INSERT', 'TRUNCATE') THEN
        to_emit := true;
    END IF;

    IF to_emit THEN
        PERFORM pg_notify(
            {channel_literal},
            json_build_object(
                'channel', {channel_literal},
                'operation', lower(TG_OP),
                'sent_at', NOW(),
                'table', TG_TABLE_NAME,
                'type', 'table_changed_event'
            )::text
        );
    END IF;

    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END;
$pgq$ LANGUAGE plpgsql;
