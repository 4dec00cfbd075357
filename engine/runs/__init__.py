"""Audience runs as data: the manifest and run result (model.py) and the rules that decide a run's status."""
