-- Scheduler state: what procrastinate (the job queue) does not know. One row per automation
-- run, unique per (automation, send time T in UTC), so a second replica cannot create or send
-- the same run (reference section 6 items 1 and 3); every phase transition with its time; and
-- the pause switch, persisted so a restart never undoes it (section 6 item 22).

CREATE TABLE engine.automation_runs (
    id uuid PRIMARY KEY,
    automation_id text NOT NULL,
    send_at timestamptz NOT NULL,
    kind text NOT NULL CHECK (kind IN ('scheduled', 'triggered', 'triggered_test')),
    status text NOT NULL CHECK (status IN (
        'scheduled', 'generating', 'generated', 'testing', 'tested', 'window', 'sending', 'sent', 'cleaned',
        'cancelled', 'skipped', 'failed', 'abandoned', 'blocked'
    )),
    reason text,
    audience_run_id uuid,
    run_dir text,
    frozen jsonb,
    audience_size integer,
    sent integer,
    failed integer,
    cadence_excluded integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (automation_id, send_at)
);
CREATE INDEX automation_runs_recent_idx ON engine.automation_runs (automation_id, send_at DESC);

CREATE TABLE engine.automation_run_phases (
    id bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES engine.automation_runs (id) ON DELETE CASCADE,
    status text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    detail text,
    worker text
);
CREATE INDEX automation_run_phases_run_idx ON engine.automation_run_phases (run_id, id);

CREATE TABLE engine.automation_controls (
    automation_id text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    reason text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Schemas owned by libraries (procrastinate), applied by `engine migrate` and recorded here.
CREATE TABLE engine.external_schemas (
    name text PRIMARY KEY,
    version text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
