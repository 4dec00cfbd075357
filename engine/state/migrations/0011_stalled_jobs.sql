-- Scheduler jobs of a dead worker handed back (issue 24, finding 5): one row per hand-back, written in the
-- same transaction as the hand-back by the replica that made it, so each is counted once and every replica's
-- /metrics can show the total (engine_state_stalled_jobs_recovered_total), not only the one that made it.
-- how: 'retried' (the job itself queued again) or 'superseded' (the run's next job for that phase already
-- waited: the dead job was closed as failed, and the waiting one takes over).
CREATE TABLE engine.stalled_jobs (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    task text NOT NULL,
    run_id text,
    how text NOT NULL CHECK (how IN ('retried', 'superseded')),
    worker text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
