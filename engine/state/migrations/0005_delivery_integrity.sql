-- Delivery integrity (issue 12): cadence claims, pushes in doubt, and send status that cannot lie.

-- A push handed to FCM whose answer was never recorded (the process died) may have been delivered:
-- it is recorded as 'in_doubt' so that cadence counts it like a sent one.
ALTER TABLE engine.user_notifications
    ADD COLUMN delivery text NOT NULL DEFAULT 'sent' CHECK (delivery IN ('sent', 'in_doubt'));

-- Cadence claims: a planned push (pending, in flight, or failed but to be retried) counts toward
-- cadence from the moment its send is planned, found by user. The index is on user_id alone so
-- that the status updates of a send stay HOT (fillfactor 50, migration 0003).
CREATE INDEX send_items_user_idx ON engine.send_items (user_id);

-- 'completed_in_doubt': nothing left to send, but some pushes may or may not have been delivered.
ALTER TABLE engine.sends DROP CONSTRAINT sends_status_check;
ALTER TABLE engine.sends ADD CONSTRAINT sends_status_check
    CHECK (status IN ('sending', 'completed', 'completed_in_doubt', 'limited', 'partial', 'interrupted', 'aborted',
                      'empty'));

-- The backend that holds the send's advisory lock while its status is 'sending'.
ALTER TABLE engine.sends ADD COLUMN holder_pid integer;

-- What to believe: 'sending' only while that backend still holds the send's lock
-- (class 0x73656E64 'send', key hashtext(send_id)); otherwise the process died mid-send.
CREATE VIEW engine.send_status AS
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
                AND l.pid = s.holder_pid
                AND l.classid = 1936027236
                AND l.objid = ((hashtext(s.send_id)::bigint + 4294967296) % 4294967296)::text::oid
                AND l.objsubid = 2
        ) THEN 'sending'
        ELSE 'interrupted'
    END AS status
FROM engine.sends AS s;
