"""Delivery: send an audience's pushes through FCM exactly once, resumably, with a send ledger.

``engine.delivery.api.send(settings, SendRequest(...)) -> SendReport`` is the entry point (the
CLI ``engine send``, the demo and the scheduler call it). Modules: ``template`` ([[var:column]]
pushes), ``catalog`` (named templates via engine.schedules, or ad hoc), ``recipients`` (run folder
or CSV), ``tokens`` (sql/tokens/latest_device_token.sql), ``plan`` (who gets what, and why not),
``ledger`` (engine.sends / send_items / dead_tokens), ``sender`` (async, bounded, rate-limited,
retrying), ``pacing`` (rate limit, backoff), ``fcm`` (the only firebase-admin user), ``fake_fcm``
(a local FCM for tests, benchmarks and the demo), ``report`` (SendReport).

Guarantees. A send is identified by its send id (run + template + mode, or CSV checksum + push,
or ``--send-id``); running it again resumes it and never starts a second copy (an advisory lock
refuses a concurrent one). Every user's row is in the ledger before anything is sent; a batch is
marked ``in_flight`` (committed) before its HTTP calls, and its results, the user_notifications
records of the pushes FCM accepted and any dead tokens are committed in one transaction after.
Pushes FCM did not accept are never tracked.

The one window no ledger closes: FCM accepted a message and the process died before the batch
commit. Those rows are still ``in_flight`` on resume, at most two batches of them. By default
they are NOT sent again (at most once): they become ``failed IN_FLIGHT_UNKNOWN`` and are reported.
``--resend-in-flight`` sends them again instead (at least once); every message carries
``data.run_id`` (the send id) so the app can drop a repeat. SIGTERM/Ctrl-C and aborts leave no
such rows: dispatched requests finish and are recorded, the rest goes back to pending.
"""
