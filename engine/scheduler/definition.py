"""schedules.yaml as the scheduler runs it: the last version that loaded, kept while an edit is broken.

A bad edit under a running replica must not stop production nor print a traceback every tick: the
replica keeps planning and running the last good definition, and the located error is published once
per change (this replica's ``engine_config_error`` gauge and log line; the shared row in
engine.config_errors that ``engine status`` and the page read; one alert, from the replica whose write
changed that row). A replica that starts on a broken file has nothing to keep: ``load`` raises.
"""

from __future__ import annotations

import threading

from engine.config import Settings
from engine.errors import ScheduleError
from engine.observe import hooks
from engine.schedules.loader import SCHEDULES_FILE, load_schedules
from engine.schedules.model import ScheduleFile
from engine.state import config_errors
from engine.state.connection import state_connection


class LastGood:
    """One per replica; ``load`` is safe from the tick and the phase threads at once."""

    def __init__(self, settings: Settings, worker: str) -> None:
        self._settings = settings
        self._worker = worker
        self._lock = threading.Lock()
        self._good: ScheduleFile | None = None
        self._error: str | None = None
        self._published = False  # the first load also clears a row a dead replica left behind

    @property
    def error(self) -> str | None:
        """The located error of the file on disk, while the last good definition stands in for it."""
        return self._error

    def load(self) -> ScheduleFile:
        """The file on disk if it loads, else the last good one (raises when there is none yet)."""
        with self._lock:
            try:
                loaded = load_schedules(self._settings.project_dir)
            except ScheduleError as err:
                if self._good is None:
                    raise
                self._publish(f"{err.location}: {err.message}" if err.location else err.message)
                return self._good
            self._good = loaded
            self._publish(None)
            return loaded

    def _publish(self, error: str | None) -> None:
        if error == self._error and self._published:
            return
        first, self._error, self._published = not self._published, error, True
        with state_connection(self._settings) as conn:
            changed = (
                config_errors.clear(conn, SCHEDULES_FILE)
                if error is None
                else config_errors.record(conn, SCHEDULES_FILE, error, self._worker)
            )
        if changed or not (first and error is None):
            hooks.config_error_changed(self._settings, SCHEDULES_FILE, error, alert=changed)
