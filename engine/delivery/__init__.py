"""Delivery: send an audience's pushes through FCM exactly once, resumably, with a send ledger.

``engine.delivery.api.send`` is the entry point. Modules: ``template`` ([[var:column]] pushes),
``catalog`` (templates in schedules.yaml), ``recipients`` (run folder / CSV), ``tokens`` (device
token lookup SQL), ``plan`` (who gets what, and why not), ``ledger`` (state tables),
``sender`` (async, bounded, rate-limited, retrying), ``fcm`` (the only firebase-admin user),
``fake_fcm`` (a local FCM for tests and the demo), ``report`` (SendReport).
"""
