"""The scheduler worker: procrastinate phase jobs over engine.api (``engine scheduler``)."""
