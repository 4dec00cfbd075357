-- A project file the scheduler could not load (issue 24): one row per file while it is broken, so that
-- `engine status`, every operator page and every replica see the same located error, and exactly one
-- replica (the one whose conditional write changed the row) alerts per change. Deleted once it loads.
CREATE TABLE engine.config_errors (
    file text PRIMARY KEY,
    message text NOT NULL,
    worker text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
