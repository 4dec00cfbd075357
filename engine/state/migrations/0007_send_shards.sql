-- Sharded sends (issue 17): a planned send's rows sent by several processes, one seq range each.

-- The shard count, pinned by the first shard run: two different splits of one send would overlap.
ALTER TABLE engine.sends ADD COLUMN shards integer CHECK (shards BETWEEN 2 AND 256);

-- What to believe, now with shards: a whole-send run holds the send's advisory lock exclusively
-- and names its backend in holder_pid; shard runs hold it shared (holder_pid NULL), so the send
-- is 'sending' while any backend holds it shared. The last shard out writes the final status.
CREATE OR REPLACE VIEW engine.send_status AS
SELECT
    s.send_id,
    s.mode,
    s.layer_id,
    s.as_of,
    s.last_error,
    s.updated_at,
    CASE
        WHEN s.status <> 'sending' THEN s.status
        WHEN EXISTS (
            SELECT 1
            FROM pg_catalog.pg_locks AS l
            WHERE l.locktype = 'advisory'
                AND l.granted
                AND (l.pid = s.holder_pid OR (s.holder_pid IS NULL AND l.mode = 'ShareLock'))
                AND l.classid = 1936027236
                AND l.objid = ((hashtext(s.send_id)::bigint + 4294967296) % 4294967296)::text::oid
                AND l.objsubid = 2
        ) THEN 'sending'
        ELSE 'interrupted'
    END AS status
FROM engine.sends AS s;
