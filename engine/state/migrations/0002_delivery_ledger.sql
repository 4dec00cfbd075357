-- Delivery ledger, version 2: every send and every (send, user) it targets, so that a send
-- resumes where it stopped and never pushes anyone twice; plus the tokens FCM declared dead.

-- One row per send. send_id is derived from the run, template and test flag (or the CSV
-- checksum and the ad hoc push), or given with --send-id: the same send always maps here.
CREATE TABLE engine.sends (
    send_id text PRIMARY KEY,
    mode text NOT NULL CHECK (mode IN ('live', 'test', 'adhoc')),
    run_id uuid,
    template text,
    audience text,
    output text,
    layer_id integer NOT NULL REFERENCES engine.notification_layers (id),
    source_file text NOT NULL,
    source_sha256 text NOT NULL,
    template_sha256 text NOT NULL,
    audience_description text,
    as_of timestamptz NOT NULL,
    -- what planning counted and decided once, for reports on resume (rows, duplicates, cadence)
    plan jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL CHECK (status IN ('sending', 'completed', 'limited', 'partial', 'interrupted',
                                           'aborted', 'empty')),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sends_run_idx ON engine.sends (run_id);

-- One row per (send, user). status: pending -> in_flight -> sent | failed, or skipped at planning.
-- in_flight is committed before the HTTP calls, so a crash leaves a trace of what may have gone out.
CREATE TABLE engine.send_items (
    send_id text NOT NULL REFERENCES engine.sends (send_id) ON DELETE CASCADE,
    seq integer NOT NULL,                      -- CSV order: batches go out in it
    user_id uuid NOT NULL,
    idempotency_key text NOT NULL UNIQUE,      -- also user_notifications.send_key
    token text,
    title text,
    body text,
    deep_link text,
    status text NOT NULL CHECK (status IN ('pending', 'in_flight', 'sent', 'failed', 'skipped')),
    reason text,                               -- skip reason, or FCM error code when failed
    retryable boolean NOT NULL DEFAULT false,  -- a failure worth another try when the send is resumed
    message_id text,
    attempts integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (send_id, seq)
);

-- Registration tokens FCM answered UNREGISTERED or SENDER_ID_MISMATCH for: never sent to again.
CREATE TABLE engine.dead_tokens (
    token text PRIMARY KEY,
    code text NOT NULL,
    user_id uuid,
    send_id text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
