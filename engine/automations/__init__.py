"""Automation runs below the API: model, store, timeline, planner, control, overview.

The worker that executes them is ``engine.scheduler``.
"""
