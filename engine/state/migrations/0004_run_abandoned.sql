-- A run whose process died (no one holds its advisory lock any more) is 'abandoned', not 'running' forever.
ALTER TABLE engine.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE engine.runs ADD CONSTRAINT runs_status_check
CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'empty', 'abandoned'));
