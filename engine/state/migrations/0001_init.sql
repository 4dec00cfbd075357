-- Engine state, version 1: runs, their outputs, and the sent-notification history
-- shaped like the original cadence service's user_notifications table.

CREATE TABLE engine.runs (
    id uuid PRIMARY KEY,
    audience text NOT NULL,
    params jsonb NOT NULL DEFAULT '{}'::jsonb,
    as_of timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'empty')),
    run_dir text,
    error text,
    manifest jsonb,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX runs_audience_started_idx ON engine.runs (audience, started_at DESC);

CREATE TABLE engine.run_outputs (
    run_id uuid NOT NULL REFERENCES engine.runs (id) ON DELETE CASCADE,
    output_name text NOT NULL,
    file_name text NOT NULL,
    is_test boolean NOT NULL DEFAULT false,
    row_count integer NOT NULL,
    sha256 text NOT NULL,
    PRIMARY KEY (run_id, file_name)
);

-- Layer ids are a contract (reference section 6 item 17): keep them stable.
CREATE TABLE engine.notification_layers (
    id integer PRIMARY KEY,
    name varchar(50) NOT NULL UNIQUE,
    description text
);
INSERT INTO engine.notification_layers (id, name, description) VALUES
    (1, 'Layer 1', 'Platform-Wide Moments: always bypasses cadence'),
    (2, 'Layer 2', 'Product/Trend Triggers'),
    (3, 'Layer 3', 'Behavior-Responsive'),
    (4, 'Test', 'Test notifications: bypass cadence'),
    (5, 'Layer 5', 'New User Series');

CREATE TABLE engine.user_notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    notification_id uuid,
    layer_id integer NOT NULL REFERENCES engine.notification_layers (id),
    sent_at timestamptz NOT NULL DEFAULT now(),
    push_title text,
    push_body text,
    audience_description text,
    deep_link text,
    -- engine additions: which send recorded this row, so tracking is idempotent
    send_key text UNIQUE
);
CREATE INDEX user_notifications_user_sent_idx ON engine.user_notifications (user_id, sent_at DESC);
CREATE INDEX user_notifications_layer_idx ON engine.user_notifications (layer_id);
CREATE INDEX user_notifications_sent_idx ON engine.user_notifications (sent_at DESC);
