"""Delivery: send an audience's pushes through FCM exactly once, resumably, with a send ledger.

``engine.api.send(settings, SendRequest(...)) -> SendReport`` is the entry point (the CLI
``engine send``, the demo and the scheduler call it); it resolves the push template
(engine.push, engine.schedules) and calls ``delivery.api.deliver``. Modules: ``request``
(SendRequest), ``recipients`` (run folder or CSV), ``tokens`` (sql/tokens/latest_device_token.sql),
``plan`` (who gets what, and why not), ``model`` (the ledger's typed rows and statuses), ``ledger``
(its transactions over engine.state.sends, the one owner of engine.sends / send_items / dead_tokens),
``sender`` (async, bounded, rate-limited, retrying, group commits), ``pacing`` (rate limit,
backoff), ``fcm`` (FCM's HTTP v1 API over httpx and google-auth; its local fake for tests,
benchmarks and the demo is engine.demo.fake_fcm), ``report`` (SendReport and its counts).

Guarantees. A send is identified by its send id (run + template + mode, or CSV checksum + push,
or ``--send-id``); running it again resumes it and never starts a second copy (an advisory lock
refuses a concurrent one). Cadence is a reservation: a new send filters its audience and writes
its ledger rows in one transaction under the cadence lock (engine.cadence.lock), and those rows
count toward cadence for every later send until they are sent (then user_notifications holds
them) or finally fail (then they are released). Each push is ``in_flight`` (committed) just
before its request; answers are committed every 20 ms with the user_notifications records of
accepted pushes and any dead tokens, and at most ``max_in_doubt`` (default twice the
concurrency) pushes are claimed and unrecorded at once.

The one window no ledger closes: FCM accepted a message and the process died before its answer
was committed. Those rows are still ``in_flight`` on resume, at most ``max_in_doubt`` of them.
By default they are NOT sent again (at most once): they become ``failed IN_FLIGHT_UNKNOWN``, are
recorded in user_notifications as ``in_doubt`` (cadence counts them), and the send ends
``completed_in_doubt`` (exit code 4). ``--resend-in-flight`` sends them again instead (at least
once); every message carries ``data.run_id`` (the send id) so the app can drop a repeat.
SIGTERM/Ctrl-C and aborts leave no such rows: requests out finish and are recorded, the rest
goes back to pending.
"""
