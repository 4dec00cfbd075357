"""Observability: Prometheus metrics, webhook alerts, and the hooks run and send code call (one per event)."""
