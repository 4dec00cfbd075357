"""One audience run's life in the state database: started under a lock, always finished.

The recorder holds the run's advisory lock on its own connection for the whole run, so a
process killed mid-run leaves a row the next run marks ``abandoned``; finishing retries on
connections from the state pool (each checked before it is lent), because the state database may
have gone away while the run worked. The lock-holder is its own connection: a pooled one would
keep the lock after the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from engine.config import Settings
from engine.errors import EngineError, StateError
from engine.runs.model import Manifest
from engine.state.connection import state_connection
from engine.state.migrate import connect_state
from engine.state.runs import abandon_dead_runs, fail_run, finish_run, start_run

log = logging.getLogger("engine.state")

FINISH_ATTEMPTS = 3


@dataclass
class RunRecorder:
    """The lock-holding connection of one recorded run (see module docstring)."""

    settings: Settings
    run_id: str
    holder: psycopg.Connection

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        run_id: str,
        audience: str,
        params: dict[str, Any],
        as_of: datetime,
        run_dir: str | None,
    ) -> RunRecorder:
        holder = connect_state(settings)
        try:
            for dead in abandon_dead_runs(holder):
                log.warning("run abandoned: its process died", extra={"abandoned_run_id": dead})
            start_run(holder, run_id=run_id, audience=audience, params=params, as_of=as_of, run_dir=run_dir)
        except BaseException:
            holder.close()
            raise
        return cls(settings, run_id, holder)

    def finish(self, manifest: Manifest) -> None:
        """Record the end of the run, retrying on fresh connections; StateError when it cannot."""
        last = ""
        for attempt in range(1, FINISH_ATTEMPTS + 1):
            try:
                with state_connection(self.settings) as conn:
                    finish_run(conn, manifest=manifest)
                return
            except (psycopg.Error, EngineError) as err:
                last = err.message if isinstance(err, EngineError) else str(err).splitlines()[0]
                log.warning("run record not finished, retrying", extra={"attempt": attempt, "error": last})
                if attempt < FINISH_ATTEMPTS:
                    time.sleep(0.5 * attempt)
            finally:
                self.close()
        raise StateError(
            f"run {self.run_id} ended {manifest.status.value} but its state record could not be "
            f"finished after {FINISH_ATTEMPTS} attempts: {last}",
            hint="its manifest.json is complete; check ENGINE_STATE_DSN (the row shows as "
            "abandoned once the database is back)",
        )

    def fail(self, error: str) -> None:
        """Best effort, on an unexpected error: the row says failed instead of running."""
        try:
            with state_connection(self.settings, retries=0) as conn:
                fail_run(conn, run_id=self.run_id, error=error)
        except (psycopg.Error, EngineError) as err:
            log.error("run record not finished", extra={"error": str(err).splitlines()[0]})
        finally:
            self.close()

    def close(self) -> None:
        """Drop the lock: from now on the run is either finished or abandoned."""
        if not self.holder.closed:
            try:
                self.holder.close()
            except psycopg.Error:
                pass
