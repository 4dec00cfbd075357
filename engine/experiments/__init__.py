"""Experiments: holdout groups and copy variants measured against conversions from the app database.

``engine.push.arms`` decides each user's arm when a send is planned (the ledger keeps it); this package
measures what the arms did afterwards: conversion SQL (``sql/conversions/``) run like audience SQL,
attributed to each push from the moment it was sent, counted per run, push and variant
(``measure``), compared with a statistics library (``stats``) and stored in engine.impact, which the
report, the operator page and /metrics read.
"""
