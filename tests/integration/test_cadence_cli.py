"""``engine cadence check`` and ``engine cadence rules`` end to end (real state database)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli.main import cli

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
U1 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000001"
U2 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000002"
U3 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000003"


@pytest.fixture(scope="module")
def state_db(create_database: Callable[..., str]) -> str:
    """One state database for the module, which only reads it. History:
    U1: a layer-3 push 10 h ago (cooldown). U2: three layer-2 pushes (combined cap). U3: none."""
    dsn = create_database(app_schema=False)
    rows = [(U1, 3, AS_OF - timedelta(hours=10))] + [(U2, 2, AS_OF - timedelta(hours=h)) for h in (1, 2, 3)]
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at) VALUES (%s, %s, %s)", rows
        )
    return dsn


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    (tmp_path / "audiences").mkdir(exist_ok=True)  # a project, with no cadence.yaml: the original service's rules
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "--log-format", "json", *args])
    return result.exit_code, result.stdout, result.stderr


def test_check_counts_per_rule_and_explains(state_db: str, tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path,
        "cadence",
        "check",
        "--dsn",
        state_db,
        "--layer",
        "3",
        "--as-of",
        AS_OF.isoformat(),
        "--explain",
        U1,
        U2,
        U3,
        "nope",
    )
    assert code == 0, err
    assert "eligible: 1" in out and "excluded: 2" in out
    assert [line.split() for line in out.splitlines() if line.startswith("  ")] == [
        ["layer_3_cooldown_hours", "1"],
        ["combined_l2_l3_limit", "1"],
    ]
    assert "invalid id: 'nope'" in out
    assert f"{U1}  layer_3_cooldown_hours  1 push(es) in the last 72 h, last at 2026-11-23T02:30:00+00:00" in out
    assert f"{U2}  combined_l2_l3_limit  3 push(es) in the last 168 h, last at 2026-11-23T11:30:00+00:00" in out


def test_check_json_from_csv(state_db: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "audience.csv"
    csv_file.write_text(f"userId,firstName\r\n{U1},Ann\r\n{U2},Bo\r\n {U3} ,Cy\r\n,empty\r\n", encoding="utf-8")
    code, out, err = run(
        tmp_path,
        "--json",
        "cadence",
        "check",
        "--dsn",
        state_db,
        "--layer",
        "Layer 2",
        "--as-of",
        AS_OF.isoformat(),
        "--csv",
        str(csv_file),
        "--explain",
    )
    assert code == 0, err
    payload = json.loads(out)
    # layer 2: no cooldown, so only U2 (3 L2 pushes in 168 h) is out; the blank row is dropped, U3 trimmed
    assert payload["eligible_ids"] == [U1, U3]
    assert payload["excluded"] == {"combined_l2_l3_limit": 1}
    assert payload["explain"] == [
        {
            "user_id": U2,
            "rule": "combined_l2_l3_limit",
            "pushes_in_window": 3,
            "last_sent_at": "2026-11-23T11:30:00+00:00",
        }
    ]
    assert (payload["layer_id"], payload["layer_name"], payload["audience"]) == (2, "Layer 2", 3)


def test_check_usage_and_config_errors_exit_2(tmp_path: Path) -> None:
    assert run(tmp_path, "cadence", "check", "--layer", "3")[0] == 2  # no ids at all
    code, _, err = run(tmp_path, "cadence", "check", "--layer", "7", U1)
    assert code == 2 and "unknown notification layer '7'" in err
    code, _, err = run(tmp_path, "cadence", "check", "--layer", "3", U1)  # no state DSN
    assert code == 2 and "no state database configured" in err


def test_rules_shows_overrides(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "automations:\n  - id: daily_layer3\n    audience: a\n    cadence: {combined_l2_l3_limit: false}\n"
    )
    code, out, _ = run(tmp_path, "cadence", "rules", "--automation", "daily_layer3")
    assert code == 0
    assert "layer 3   Layer 3      apply   rules: layer_3_cooldown_hours\n" in out
    assert "combined_l2_l3_limit" in out and "(disabled)" in out
