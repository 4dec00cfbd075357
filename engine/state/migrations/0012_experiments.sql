-- Experiments (issue 26): which copy variant each user of a send got, how many users an automation run
-- held out, and the measured conversions of each run's pushes (engine impact), which the run report,
-- the operator page and /metrics read.

ALTER TABLE engine.send_items ADD COLUMN variant text;  -- NULL: the push has no variants
ALTER TABLE engine.automation_runs ADD COLUMN held_out integer;

-- One row per (automation run, push, variant, conversion) measured: counts only; the statistics (rates,
-- intervals, p-values) are derived from them when read, so there is one truth. variant '' is the push
-- as a whole (every variant together), which the holdout is compared against.
CREATE TABLE engine.impact (
    run_id uuid NOT NULL REFERENCES engine.automation_runs (id) ON DELETE CASCADE,
    automation_id text NOT NULL,
    push text NOT NULL,
    variant text NOT NULL DEFAULT '',
    conversion text NOT NULL,
    within_seconds integer NOT NULL CHECK (within_seconds > 0),
    send_at timestamptz NOT NULL,          -- when the live send began: the holdout's attribution time
    window_closed boolean NOT NULL,        -- false: the window is still open, the counts can still grow
    treated integer NOT NULL CHECK (treated >= 0),
    treated_converted integer NOT NULL CHECK (treated_converted BETWEEN 0 AND treated),
    held_out integer NOT NULL CHECK (held_out >= 0),
    held_out_converted integer NOT NULL CHECK (held_out_converted BETWEEN 0 AND held_out),
    measured_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, push, variant, conversion)
);
CREATE INDEX impact_automation_idx ON engine.impact (automation_id, send_at);
