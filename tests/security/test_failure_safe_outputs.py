"""Hole 6, writing outputs is not failure-safe: an OS error fails one file, never the run's bookkeeping.

Each test breaks the file system for real (a directory where a file should go, a path that is too
long, an ``--out`` under a regular file, a ``kill -9`` mid-run) and checks what is on disk and in
``engine.runs`` afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from engine import api
from engine.config import resolve
from engine.outputs.atomic import STALE_AFTER_S, host_tag, remove_stale_temps, temp_path, write_atomic
from engine.runs.model import MANIFEST, OutputStatus, RunStatus, read_manifest
from engine.timeutil import file_timestamp, parse_as_of
from tests.fixtures.appdata import AppData
from tests.security.project import TWO_OUTPUTS, build
from tests.security.test_hostile_projects import AS_OF, invoke

STAMP = "20261120_120000"  # AS_OF in the default timezone (UTC), as file names show it


def _users(app_db: str) -> None:
    data = AppData(app_db)
    for name in ("Ann", "Bob"):
        data.user(name)


def _row(dsn: str, run_id: str) -> tuple[str, str | None]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT status, error FROM engine.runs WHERE id = %s", (run_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_directory_at_test_file_path_fails_that_file_only(app_db: str, tmp_path: Path) -> None:
    _users(app_db)
    project = build(tmp_path / "project", audience=TWO_OUTPUTS)
    settings = resolve(
        {
            "source_dsn": app_db,
            "state_dsn": app_db,
            "output_dir": tmp_path / "out",
            "project_dir": project,
            "connect_retries": 0,
        },
        env={},
    )
    run_id = str(uuid.uuid4())
    as_of = parse_as_of(AS_OF)
    assert file_timestamp(as_of, settings.timezone) == STAMP
    run_dir = tmp_path / "out" / "target" / f"{STAMP}_{run_id[:8]}"
    (run_dir / f"TEST_target_{STAMP}.csv").mkdir(parents=True)  # the TEST file cannot replace a directory

    [result] = api.run(settings, selectors=["target"], as_of=as_of, variables={"name": "Ann"}, run_id=run_id)

    manifest = read_manifest(run_dir)  # written, and finished
    assert manifest.status is RunStatus.PARTIAL and not result.ok
    test = manifest.output("all", test=True)
    assert test is not None and test.status is OutputStatus.FAILED
    assert test.error and "Is a directory" in test.error and f"TEST_target_{STAMP}.csv" in test.error
    # the others were written: Ann is the one row of both production files
    for name, file in (("all", f"target_{STAMP}.csv"), ("second", f"second_{STAMP}.csv")):
        record = manifest.output(name, test=False)
        assert record is not None and record.status is OutputStatus.WRITTEN and record.rows == 1
        assert (run_dir / file).is_file()
    assert _row(app_db, run_id)[0] == "partial"
    assert not list(run_dir.glob(".*.tmp"))


def test_name_too_long_for_the_test_file_exits_1_without_traceback(app_db: str, tmp_path: Path) -> None:
    _users(app_db)
    long_test = "TEST_" + "t" * 150 + "_{timestamp}.csv"  # 176 bytes: a legal name, 150 more than the CSV's
    project = build(
        tmp_path / "project", audience={"outputs": [{**TWO_OUTPUTS["outputs"][0], "test": {"file": long_test}}]}
    )
    # --out deep enough that the run folder's path is ~3950 bytes: the production CSV's temp path
    # (~3950 + 55) fits in PATH_MAX (4096), the TEST file's (~3950 + 200) does not: ENAMETOOLONG
    out = tmp_path / "o"
    while len(str(out / "target" / f"{STAMP}_12345678")) < 3950 - 200:
        out = out / ("d" * 200)
    out = out / ("e" * (3950 - len(str(out / "target" / f"{STAMP}_12345678")) - 1))
    assert len(str(out / "target" / f"{STAMP}_12345678")) == 3950

    result = invoke(project, out, app_db, "run", "--var", "name=Ann", "--as-of", AS_OF)

    shown = result.stdout + result.stderr
    assert result.exit_code == 1, shown[-2000:]
    assert "Traceback" not in shown
    [run_dir] = (out / "target").iterdir()
    manifest = read_manifest(run_dir)
    assert manifest.status is RunStatus.PARTIAL
    test = manifest.output("all", test=True)
    assert test is not None and test.status is OutputStatus.FAILED and "File name too long" in (test.error or "")
    production = manifest.output("all", test=False)
    assert production is not None and production.status is OutputStatus.WRITTEN
    assert (run_dir / production.file).is_file()


def test_out_under_a_regular_file_finishes_the_run_record_failed(app_db: str, tmp_path: Path) -> None:
    _users(app_db)
    project = build(tmp_path / "project")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    out = blocker / "out"

    result = invoke(project, out, app_db, "run", "--var", "name=Ann", "--as-of", AS_OF)
    result_state = _invoke_with_state(project, out, app_db)

    for run in (result, result_state):
        shown = run.stdout + run.stderr
        assert run.exit_code == 1, shown[-2000:]
        assert "Traceback" not in shown and "Not a directory" in shown
    with psycopg.connect(app_db) as conn:
        rows = conn.execute("SELECT status, error FROM engine.runs WHERE audience = 'target'").fetchall()
    # only the second invocation records; its row is finished, never left 'running'
    assert len(rows) == 1 and rows[0][0] == "failed" and f"{MANIFEST} not written" in rows[0][1]


def _invoke_with_state(project: Path, out: Path, dsn: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner  # noqa: PLC0415

    from engine.cli.main import cli  # noqa: PLC0415

    return CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "--log-format", "json", "run", "--var", "name=Ann", "--as-of", AS_OF],
        env={
            "ENGINE_SOURCE_DSN": dsn,
            "ENGINE_STATE_DSN": dsn,
            "ENGINE_OUTPUT_DIR": str(out),
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): no one writes under it any more."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(proc.stdout)


def test_stale_temp_files_of_dead_runs_are_removed_by_the_next_run(app_db: str, tmp_path: Path) -> None:
    _users(app_db)
    project = build(tmp_path / "project")
    out = tmp_path / "out"
    old_run = out / "target" / "20261119_120000_deadbeef"
    old_run.mkdir(parents=True)
    dead = old_run / f".target_20261119_120000.csv.{host_tag()}.{_dead_pid()}.abc123_x.tmp"
    dead.write_bytes(b"x" * 4096)
    live = old_run / f".target_20261119_120000.csv.{host_tag()}.{os.getpid()}.zzz999_y.tmp"  # still writing
    live.write_bytes(b"y")
    other = old_run / ".notes.tmp"  # not the engine's temp-name shape: left alone
    other.write_text("mine\n")

    result = invoke(project, out, app_db, "run", "--var", "name=Ann", "--as-of", AS_OF)

    assert result.exit_code == 0, (result.stdout + result.stderr)[-2000:]
    assert not dead.exists()
    assert live.exists() and other.exists()
    assert remove_stale_temps(out) == []  # nothing else stale: the run left no temp file of its own


def _aged(path: Path, seconds: float) -> Path:
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def test_temp_names_carry_host_and_pid(tmp_path: Path) -> None:
    # issue 22 item 5e: a pid alone says nothing on an output folder other hosts write to
    tmp = temp_path(tmp_path / "run" / "target_1.csv")
    assert tmp.name.startswith(f".target_1.csv.{host_tag()}.{os.getpid()}.") and tmp.name.endswith(".tmp")
    assert "." not in host_tag() and 0 < len(host_tag()) <= 24
    write_atomic(tmp_path / "run" / "manifest.json", b"{}")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [tmp.name, "manifest.json"]


def test_another_hosts_temp_file_is_removed_only_when_clearly_stale(tmp_path: Path) -> None:
    run = tmp_path / "out" / "target" / "20261119_120000_deadbeef"
    run.mkdir(parents=True)
    dead = _dead_pid()  # dead here; on replica-b it may be the writer, alive and writing
    other = run / f".target_20261119_120000.csv.replica-b.{dead}.abc123_x.tmp"
    other_old = run / f".second_20261119_120000.csv.replica-b.{dead}.abc123_y.tmp"
    legacy = run / f".target_20261119_120000.csv.{dead}.abc123_z.tmp"  # before host tags: whose pid?
    legacy_old = run / f".second_20261119_120000.csv.{dead}.abc123_w.tmp"
    mine_old_live = run / f".third_20261119_120000.csv.{host_tag()}.{os.getpid()}.abc123_v.tmp"
    for path in (other, other_old, legacy, legacy_old, mine_old_live):
        path.write_bytes(b"x")
    for path in (other_old, legacy_old, mine_old_live):
        _aged(path, STALE_AFTER_S + 60)
    _aged(other, STALE_AFTER_S - 3600)  # an hour short of stale: may still be written

    removed = remove_stale_temps(tmp_path / "out")

    assert sorted(removed) == sorted([other_old, legacy_old, mine_old_live])
    assert other.exists() and legacy.exists()


KILLED_RUN = """
import sys, time
from engine import api
from engine.config import resolve
from engine.timeutil import parse_as_of
settings = resolve({"source_dsn": sys.argv[1], "state_dsn": sys.argv[1], "output_dir": sys.argv[2],
                    "project_dir": sys.argv[3], "connect_retries": 0}, env={})
import engine.pipeline as pipeline
real = pipeline.run_audience
def slow(*args, **kwargs):
    print("started", flush=True)
    time.sleep(60)   # killed here, with its row 'running'
    return real(*args, **kwargs)
pipeline.run_audience = slow
api.run_audience = slow
api.run(settings, selectors=["target"], as_of=parse_as_of(sys.argv[4]), run_id=sys.argv[5])
"""


def test_run_whose_process_was_killed_is_abandoned_not_running(app_db: str, tmp_path: Path) -> None:
    _users(app_db)
    project = build(tmp_path / "project")
    out = tmp_path / "out"
    killed_id = str(uuid.uuid4())
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, app_db, str(out), str(project), AS_OF, killed_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        settings = resolve(
            {
                "source_dsn": app_db,
                "state_dsn": app_db,
                "output_dir": out,
                "project_dir": project,
                "connect_retries": 0,
            },
            env={},
        )
        # while it lives, another run leaves its row alone: the lock is held
        api.run(settings, selectors=["target"], as_of=parse_as_of(AS_OF))
        assert _row(app_db, killed_id)[0] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10  # the server notices the dead session's socket at once; allow slack
    [later] = api.run(settings, selectors=["target"], as_of=parse_as_of(AS_OF))
    while _row(app_db, killed_id)[0] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        api.run(settings, selectors=["target"], as_of=parse_as_of(AS_OF))
    status, error = _row(app_db, killed_id)
    assert status == "abandoned" and error and "died" in error
    assert _row(app_db, later.run_id)[0] in {"empty", "succeeded"}
    with psycopg.connect(app_db) as conn:
        still = conn.execute("SELECT count(*) FROM engine.runs WHERE status = 'running'").fetchone()
    assert still == (0,)


@pytest.fixture
def doomed_state_db(create_database: Callable[..., str]) -> str:
    return create_database(app_schema=False, state=True)


def test_state_database_gone_before_finish_says_so_and_manifest_is_finished(
    app_db: str, doomed_state_db: str, tmp_path: Path
) -> None:
    _users(app_db)
    project = build(tmp_path / "project")
    out = tmp_path / "out"
    settings = resolve(
        {
            "source_dsn": app_db,
            "state_dsn": doomed_state_db,
            "output_dir": out,
            "project_dir": project,
            "connect_retries": 0,
        },
        env={},
    )
    import engine.api as api_module  # noqa: PLC0415

    real = api_module.run_audience

    def drop_state_then_run(*args, **kwargs):  # type: ignore[no-untyped-def]
        # the state database goes away mid-run (after the row was started, before it is finished)
        name = psycopg.conninfo.conninfo_to_dict(doomed_state_db)["dbname"]
        with psycopg.connect(app_db, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        return real(*args, **kwargs)

    api_module.run_audience = drop_state_then_run
    try:
        from engine.errors import StateError  # noqa: PLC0415

        with pytest.raises(StateError) as caught:
            api.run(settings, selectors=["target"], as_of=parse_as_of(AS_OF))
    finally:
        api_module.run_audience = real
    message = caught.value.message
    assert "state record could not be finished after 3 attempts" in message and "\n" not in message
    [run_dir] = (out / "target").iterdir()
    assert json.loads((run_dir / MANIFEST).read_text())["status"] == "empty"  # Ann is not 'nobody-has-this-name'
