"""`engine demo` ends with a short impact table: the automation's pushes are sent live as the automation's (its
10 % holdout held out), conversions are planted with a known uplift, and `engine impact` measures them.

The truth is what the planter drew (engine.experiments.planting counts its converters per arm); the measurement
must find exactly those converters among exactly the users the ledger treated and held out, and the demo's run
report shows the held-out users and, the 24h window being open, when it closes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine.cli.cmd_demo import _impact_table
from engine.cli.main import cli
from tests.conftest import PROJECT_ROOT
from tests.fixtures.htmlpage import parse


@pytest.fixture
def demo_database(pg_admin_dsn: str) -> Iterator[str]:
    name = f"ae_demo_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_the_demo_ends_with_the_measured_impact_of_its_automation(
    pg_admin_dsn: str, demo_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--project-dir", str(PROJECT_ROOT), "--json", "demo", "--users", "1000", "--db", demo_database]
    env = {"ENGINE_SOURCE_DSN": pg_admin_dsn, "ENGINE_OUTPUT_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, [*args, "--as-of", "2026-11-23T12:30:00Z"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)

    # the table the text output ends with: its title, header, one line per push of the planted conversion
    _impact_table(out["planted"], out["impact"])
    tail = capsys.readouterr().out.splitlines()
    assert tail[0].startswith("impact of daily_layer3: planted created_offer at 10% for the held out, 15%")
    assert tail[1].split()[:3] == ["push", "treated", "held"]
    assert [line.split()[0] for line in tail[2:]] == [
        "layer3_offer_creators",
        "layer3_closet_adders",
        "layer3_wishlist_adders",
    ]

    with psycopg.connect(make_conninfo(pg_admin_dsn, dbname=demo_database)) as conn:
        # the ledger's arms of the automation's live sends: sent, or skipped as held out
        arms = conn.execute(
            "SELECT count(*) FILTER (WHERE i.status = 'sent'), count(*) FILTER (WHERE i.reason LIKE 'held_out:%')"
            " FROM engine.send_items AS i JOIN engine.sends AS s USING (send_id)"
            " JOIN engine.automation_runs AS r ON r.audience_run_id = s.run_id"
            " WHERE r.automation_id = 'daily_layer3' AND s.mode = 'live'"
        ).fetchone()
        stored = conn.execute(
            "SELECT sum(treated), sum(treated_converted), sum(held_out), sum(held_out_converted),"
            " bool_or(window_closed) FROM engine.impact"
            " WHERE automation_id = 'daily_layer3' AND variant = '' AND conversion = 'created_offer'"
        ).fetchone()
        run_dir = conn.execute(
            "SELECT run_dir FROM engine.automation_runs WHERE automation_id = 'daily_layer3' AND kind = 'triggered'"
        ).fetchone()
    assert arms is not None and stored is not None and run_dir is not None
    treated, held_out = arms
    assert treated > 0 and held_out > 0

    # what was planted against what was measured, summed over the pushes: every planted converter is found
    [planted] = out["planted"]
    rows = [r for r in out["impact"] if r["conversion"] == "created_offer"]
    measured = [sum(r[k] for r in rows) for k in ("treated", "treated_converted", "held_out", "held_out_converted")]
    assert measured == [
        planted["treated"],
        planted["treated_converted"],
        planted["held_out"],
        planted["held_out_converted"],
    ]
    # stored: the ledger's arms, measured with the window open (24h after the send)
    assert list(stored) == [treated, planted["treated_converted"], held_out, planted["held_out_converted"], False]

    page = parse(Path(run_dir[0]) / "report.html")
    assert f"{held_out} held out" in page.texts["outcomes"]
    assert page.texts["impact-status"].startswith("window still open until")
