"""The run-side repositories of engine/state on a real database: typed frozen rows, conditional moves, one pool."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from engine.config import Settings, resolve
from engine.errors import DatabaseUnavailable, NotMigrated
from engine.runs.model import Manifest, OutputRecord, OutputStatus, RunStatus
from engine.state import automation_runs, controls, external_schemas, runs
from engine.state.connection import state_connection
from engine.state.model import AutomationRun, AutomationRunStatus, RunKind

T = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)


def _settings(dsn: str, tmp_path: Path) -> Settings:
    return resolve({"state_dsn": dsn, "project_dir": str(tmp_path), "connect_retries": 0}, env={})


@pytest.fixture
def conn(app_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(app_db, autocommit=True) as connection:
        yield connection


def test_automation_runs_are_typed_frozen_rows_unique_per_send_time(conn: psycopg.Connection) -> None:
    run = automation_runs.create_run(conn, automation_id="daily", send_at=T, kind=RunKind.SCHEDULED, worker="w1")
    assert isinstance(run, AutomationRun)
    assert run.status is AutomationRunStatus.SCHEDULED and run.kind is RunKind.SCHEDULED
    assert run.id == automation_runs.run_id_for("daily", T) and run.frozen == {} and run.audience_run_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = AutomationRunStatus.FAILED  # type: ignore[misc]
    assert automation_runs.create_run(conn, automation_id="daily", send_at=T, kind=RunKind.SCHEDULED) is None
    assert automation_runs.get_run(conn, run.id) == run
    assert automation_runs.get_run(conn, "not-a-uuid") is None


def test_a_transition_happens_only_from_an_expected_status_and_is_recorded(conn: psycopg.Connection) -> None:
    run = automation_runs.create_run(conn, automation_id="daily", send_at=T, kind=RunKind.TRIGGERED_TEST)
    assert run is not None
    assert automation_runs.transition(conn, run.id, {AutomationRunStatus.SENDING}, AutomationRunStatus.SENT) is None
    moved = automation_runs.transition(
        conn,
        run.id,
        {AutomationRunStatus.SCHEDULED},
        AutomationRunStatus.GENERATED,
        detail="made",
        worker="w2",
        audience_size=3,
        frozen={"a.csv": "ab12"},
    )
    assert moved is not None and moved.status is AutomationRunStatus.GENERATED
    assert (moved.audience_size, moved.frozen, moved.reason) == (3, {"a.csv": "ab12"}, "made")
    events = automation_runs.phases(conn, run.id)
    assert [(e.status, e.worker) for e in events] == [
        (AutomationRunStatus.SCHEDULED, None),
        (AutomationRunStatus.GENERATED, "w2"),
    ]
    assert all(type(e.status) is AutomationRunStatus for e in events)


def test_unfinished_runs_use_the_one_final_set(conn: psycopg.Connection) -> None:
    """``sent`` is not final (its cleanup follows): the operator page once dropped it from the open runs."""
    made = {}
    for hours, status in enumerate(AutomationRunStatus):
        run = automation_runs.create_run(
            conn, automation_id="daily", send_at=T + timedelta(hours=hours), kind=RunKind.SCHEDULED, status=status
        )
        assert run is not None
        made[run.id] = status
    unfinished = automation_runs.unfinished_runs(conn)
    assert [r.status for r in unfinished] == [s for s in AutomationRunStatus if not s.final]
    assert AutomationRunStatus.SENT in {r.status for r in unfinished}
    assert [r.status for r in automation_runs.unfinished_runs(conn, limit=2)] == [
        AutomationRunStatus.SCHEDULED,
        AutomationRunStatus.GENERATING,
    ]
    assert [r.send_at for r in automation_runs.recent_runs(conn, "daily", 2)] == [
        T + timedelta(hours=13),
        T + timedelta(hours=12),
    ]
    assert automation_runs.send_times_between(conn, "daily", T, T + timedelta(hours=2)) == {
        T + timedelta(hours=1),
        T + timedelta(hours=2),
    }
    [success] = automation_runs.last_successes(conn)
    assert (success.kind, success.name) == ("automation", "daily")


def test_the_audience_run_of_an_automation_run(conn: psycopg.Connection) -> None:
    run = automation_runs.create_run(conn, automation_id="daily", send_at=T, kind=RunKind.SCHEDULED)
    assert run is not None
    audience_run_id = str(uuid.uuid4())
    assert automation_runs.for_audience_run(conn, audience_run_id) is None
    automation_runs.set_audience_run(conn, run.id, audience_run_id)
    found = automation_runs.for_audience_run(conn, audience_run_id)
    assert found is not None and found.id == run.id and found.audience_run_id == audience_run_id


def test_the_pause_switch(conn: psycopg.Connection) -> None:
    first = controls.control(conn, "daily")
    assert (first.paused, first.reason) == (False, None)
    assert controls.set_paused(conn, "daily", True, "holiday") is True
    assert controls.set_paused(conn, "daily", True, "again") is False
    again = controls.control(conn, "daily")
    assert (again.paused, again.reason, again.first_seen_at) == (True, "holiday", first.first_seen_at)


def _manifest(run_id: str, status: RunStatus, rows: int) -> Manifest:
    output = OutputRecord(
        name="main", file="main.csv", is_test=False, status=OutputStatus.WRITTEN, rows=rows, sha256="00"
    )
    return Manifest(
        run_id=run_id, audience="toy", layer=3, as_of=T.isoformat(), params={}, status=status, outputs=(output,)
    )


def _recorded(app_db: str, status: RunStatus, rows: int) -> str:
    run_id = str(uuid.uuid4())
    with psycopg.connect(app_db) as holder:
        runs.start_run(holder, run_id=run_id, audience="toy", params={"n": 1}, as_of=T, run_dir=f"/runs/{run_id}")
        runs.finish_run(holder, manifest=_manifest(run_id, status, rows))
    return run_id


def test_audience_runs_come_back_with_their_status_and_manifest(app_db: str, conn: psycopg.Connection) -> None:
    first = _recorded(app_db, RunStatus.SUCCEEDED, 5)
    failed = _recorded(app_db, RunStatus.FAILED, 0)
    last = _recorded(app_db, RunStatus.PARTIAL, 7)
    record = runs.get_run(conn, first)
    assert record is not None and record.status is RunStatus.SUCCEEDED and record.run_dir == f"/runs/{first}"
    assert record.manifest == _manifest(first, RunStatus.SUCCEEDED, 5)
    assert runs.get_run(conn, "nope") is None and runs.get_run(conn, str(uuid.uuid4())) is None
    assert [r.id for r in runs.recent_runs(conn, 2)] == [last, failed]
    assert [r.id for r in runs.audience_runs(conn, "toy", 5)] == [last, failed, first]
    # the runs a report compares its size with: finished with outputs, before this one
    assert [r.id for r in runs.finished_before(conn, "toy", last, 5)] == [first]
    [success] = runs.last_successes(conn)
    assert (success.kind, success.name) == ("audience", "toy")


def test_one_pool_per_process_lends_the_same_session_again(app_db: str, tmp_path: Path) -> None:
    settings = _settings(app_db, tmp_path)
    with state_connection(settings) as conn:
        pid = conn.info.backend_pid
        assert conn.autocommit
    with state_connection(settings) as conn:
        assert conn.info.backend_pid == pid


def test_an_unmigrated_or_unreachable_state_database_is_an_engine_error(empty_db: str, tmp_path: Path) -> None:
    with pytest.raises(NotMigrated), state_connection(_settings(empty_db, tmp_path)):
        pass
    with (
        pytest.raises(DatabaseUnavailable),
        state_connection(_settings("postgresql://postgres@127.0.0.1:1/none", tmp_path)),
    ):
        pass


def test_library_schemas_are_recorded_by_name(conn: psycopg.Connection) -> None:
    assert external_schemas.recorded_version(conn, "some_library") is None
    external_schemas.record(conn, "some_library", "3.1.0")
    assert external_schemas.recorded_version(conn, "some_library") == "3.1.0"
