-- Production truth (issue 24): a run is fixed once planned and frozen at generate.
-- The phase times planned with the run (a cron or lead edit applies to runs not yet planned) and the
-- automation's definition as it stood at generate, with its sha256 (TEST, the window and the live send
-- use this copy, never the current schedules.yaml). NULL on runs made before this migration.
ALTER TABLE engine.automation_runs
    ADD COLUMN generate_at timestamptz,
    ADD COLUMN test_at timestamptz,
    ADD COLUMN window_opens_at timestamptz,
    ADD COLUMN live_at timestamptz,
    ADD COLUMN latest_start timestamptz,
    ADD COLUMN definition jsonb,
    ADD COLUMN definition_hash text;

-- When a scheduler last planned the automation: a run found past its generate time is then told
-- truthfully as missed because schedules.yaml changed (a scheduler was planning) or because none ran.
ALTER TABLE engine.automation_controls ADD COLUMN planned_at timestamptz;
