"""Smoke test of the benchmark entry point: it runs end to end on tiny scales and prints its tables.

No timing is asserted (figures on a shared machine are noise at this size); what must hold
is that every section ran, every audience has a row at every scale, the old way produced
the same rows as the engine, and the bench databases were dropped afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from benchmarks.__main__ import AUDIENCES  # the audiences with a legacy twin in benchmarks/oldway
from benchmarks.harness import BenchError, prepare_database


@pytest.mark.slow
def test_benchmark_runs_end_to_end_and_prints_every_table(
    pg_admin_dsn: str, project_root: Path, tmp_path: Path
) -> None:
    prefix = f"ae_test_bench_{uuid.uuid4().hex[:8]}"
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--users",
            "2000",
            "--scales",
            "1000,2000",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--sections",
            "floor,engine,old,scaling,project",
            "--db-prefix",
            prefix,
            "--dsn",
            pg_admin_dsn,
            "--json",
            str(out_json),
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout

    for heading in ("Audiences: floor, engine, old way", "Engine steps at 2,000 users", "Scaling:", "Targets"):
        assert heading in text
    table = text.split("\n\n")[0].splitlines()
    for users in ("1,000", "2,000"):
        for audience in AUDIENCES:
            assert any(line.startswith(users) and f" {audience} " in line for line in table), (users, audience)
    for label in (
        "query owners",
        "duckdb prioritise",
        "outputs, render, connect",
        "k engine",
        "bound/literal",
        "Whole project (`engine run`",
        "server-side binding",
    ):
        assert label in text

    figures = json.loads(out_json.read_text())
    for scale in ("1000", "2000"):
        for audience in AUDIENCES:
            result = figures["results"][scale]["audiences"][audience]
            assert set(result) == {"engine", "floor", "floor_literal", "old", "match", "ratios"}
            assert set(result["ratios"]) == {"engine_over_floor", "old_over_engine", "binding_cost"}
            # the floor replays the engine's statements: one timing per query, named as the engine's
            assert sorted(q["name"] for q in result["floor"]["queries"]) == sorted(
                q["name"] for q in result["engine"]["queries"]
            )
            # the old way is the same audience: same rows in every production file
            assert result["match"]["rows_match"], result["match"]
            assert result["engine"]["peak_rss_bytes"] > 0

    project = figures["results"]["2000"]["project"]
    assert project["width_1"] > 0 and project["width_2"] > 0 and project["speedup"] > 0

    with psycopg.connect(pg_admin_dsn) as conn:  # without --keep, nothing is left behind
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
    assert left == []


def test_a_database_without_the_benchmark_label_is_never_dropped(pg_admin_dsn: str, app_db: str) -> None:
    # app_db is a test database (no COMMENT): asking the harness to (re)seed it under that name
    # must refuse before touching it, so its app tables are still there afterwards.
    name = conninfo_to_dict(app_db)["dbname"]
    with pytest.raises(BenchError, match="not a benchmark database"):
        prepare_database(pg_admin_dsn, name, users=10, seed=1, as_of=datetime(2026, 11, 23, tzinfo=UTC), reuse=False)
    with psycopg.connect(app_db) as conn:
        assert conn.execute("SELECT to_regclass('public.users') IS NOT NULL").fetchone()[0]


@pytest.mark.slow
def test_sharded_send_benchmark_runs_and_delivers_each_message_once(pg_admin_dsn: str, project_root: Path) -> None:
    # the benchmark itself stops with an error unless every round delivered each message exactly once
    proc = subprocess.run(
        [sys.executable, "benchmarks/sharded_send.py", "--recipients", "300", "--delay", "0.01", "--dsn", pg_admin_dsn],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip().endswith("x")]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("0ms", "1", "300"),
        ("0ms", "2", "300"),
        ("10ms", "1", "300"),
        ("10ms", "2", "300"),
    ]
    assert "shard workers" in proc.stdout
