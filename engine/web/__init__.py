"""The operator page: a small read view over the state database, guarded actions, health and metrics."""
