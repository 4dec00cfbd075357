"""schedules.yaml: push templates and automations (loaded here; run by the scheduler, sent by delivery)."""
