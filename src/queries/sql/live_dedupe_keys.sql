-- live_dedupe_keys: which of the dedupe keys $1 belong to a queued or picked
-- job (after a kRaise enqueue failed, to name the keys in the error).

SELECT DISTINCT dedupe_key FROM {queue_table} WHERE dedupe_key = ANY($1::text[]) AND status IN ('queued', 'picked')
