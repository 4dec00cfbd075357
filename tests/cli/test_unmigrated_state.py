"""Every command on a state database `engine migrate` never ran on says so: exit 2, no traceback (issue 22).

Before, only `run` and `send` named `engine migrate`; `status`, `plan`, `pause`, `cancel`, `trigger`,
`report --history` and `scheduler` printed a psycopg traceback. Each command runs as its own process
(a command that wrongly went on, such as `scheduler` or `serve`, would run until the timeout).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from engine.state.migrate import available_migrations, migrate

BASE = Path(__file__).resolve().parent.parent / "validate" / "fixtures" / "base"
RUN_ID = "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11"
USER = "0e54067c-4c0e-4e4a-8a23-a47661578059"
COMMANDS = [
    ["status"],
    ["plan"],
    ["pause", "daily_mini"],
    ["resume", "daily_mini"],
    ["cancel", RUN_ID],
    ["trigger", "daily_mini"],
    ["report", "--history", "mini"],
    ["report", RUN_ID],
    ["scheduler", "--stalled-after", "1"],
    ["serve", "--port", "0"],
    ["run", "--select", "mini", "--as-of", "2026-11-20T12:00:00Z"],
    ["send", "{csv}", "--template", "mini_closet", "--dry-run"],
    ["cadence", "check", USER, "--layer", "3"],
]


def _engine(project: Path, dsn: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "ENGINE_STATE_DSN": dsn,
        "ENGINE_SOURCE_DSN": dsn,
        "ENGINE_OUTPUT_DIR": str(out),
        "ENGINE_CONNECT_RETRIES": "0",
        "ENGINE_LOG_FORMAT": "plain",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "engine"), "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=env,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(BASE, root)
    (tmp_path / "users.csv").write_text(f"user_id,firstName,item_count,product_name\n{USER},Ann,3,Shoe\n")
    return root


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_every_command_names_engine_migrate(project: Path, empty_db: str, tmp_path: Path, args: list[str]) -> None:
    args = [a.replace("{csv}", str(tmp_path / "users.csv")) for a in args]
    proc = _engine(project, empty_db, tmp_path / "out", *args)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    assert "engine migrate" in proc.stderr and "not migrated" in proc.stderr, proc.stderr[-2000:]


def test_an_older_schema_is_not_migrated_either(project: Path, empty_db: str, tmp_path: Path) -> None:
    # tables from an older engine: the latest migration missing is the same one thing to do
    with psycopg.connect(empty_db, autocommit=True) as conn:
        migrate(conn)
        latest = available_migrations()[-1].version
        conn.execute("DELETE FROM engine.schema_migrations WHERE version = %s", (latest,))
    proc = _engine(project, empty_db, tmp_path / "out", "status")
    assert proc.returncode == 2 and "engine migrate" in proc.stderr, proc.stderr[-2000:]
    assert f"{latest - 1}" in proc.stderr and f"{latest}" in proc.stderr, proc.stderr
