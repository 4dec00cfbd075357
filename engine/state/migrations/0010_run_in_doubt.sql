-- Outcomes (issue 24): a run's pushes in doubt (handed to FCM, answer never recorded) are counted apart
-- from those FCM refused, so no reader calls them failed. NULL: the run has not sent (or predates this).
ALTER TABLE engine.automation_runs ADD COLUMN in_doubt integer;
