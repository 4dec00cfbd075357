"""The impact section of a run report and the conversion-rate history of ``engine report --history``.

An automation run is recorded around a real toy audience run (tests/report/test_report.py's world) with a
frozen definition declaring one conversion (``made_offer`` within 24h), and engine.impact rows are stored
directly: the report reads them, it does not measure. Expected numbers are worked out by hand below:
rates are converted / users; the Wilson interval and Newcombe's interval for the difference are computed
from their textbook formulas here (not with statsmodels, which the engine uses).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from click.testing import CliRunner

from engine.cli.main import cli
from engine.config import Settings
from engine.report import build_report
from engine.state import automation_runs, impact
from engine.state.model import ALL_VARIANTS, AutomationRunStatus, ImpactCounts, RunKind
from tests.fixtures.htmlpage import parse
from tests.report.test_report import _run, world  # noqa: F401  (fixture: the toy project and its data)

Z = 1.959963984540054  # the 97.5 % normal quantile: 95 % two-sided
DAY = timedelta(hours=24)
NOW = datetime.now(timezone.utc).replace(microsecond=0)
DEFINITION = {
    "audience": "toy",
    "vars": {},
    "pushes": [],
    "cadence": None,
    "max_audience_size": None,
    "conversions": [{"name": "made_offer", "within": "24h"}, {"name": "active_again", "within": "2h"}],
}


def _wilson(k: int, n: int) -> tuple[float, float]:
    p, z2 = k / n, Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def _newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (method 10 of his 1998 paper)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = _wilson(k1, n1), _wilson(k2, n2)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _automation_run(
    settings: Settings, audience_run_id: str, run_dir: Path, *, send_at: datetime, automation: str = "toy_daily"
) -> str:
    """A cleaned automation run of ``automation`` that generated ``audience_run_id``: 2,200 users, 200 held out."""
    with psycopg.connect(str(settings.state_dsn), autocommit=True) as conn:
        run = automation_runs.create_run(conn, automation_id=automation, send_at=send_at, kind=RunKind.SCHEDULED)
        assert run is not None
        automation_runs.freeze_definition(conn, run.id, DEFINITION, "d" * 64)
        moved = automation_runs.transition(
            conn,
            run.id,
            {AutomationRunStatus.SCHEDULED},
            AutomationRunStatus.CLEANED,
            audience_run_id=audience_run_id,
            run_dir=str(run_dir),
            audience_size=2200,
            sent=2000,
            failed=0,
            in_doubt=0,
            cadence_excluded=0,
            held_out=200,
        )
        assert moved is not None
        return run.id


def _store(settings: Settings, rows: list[ImpactCounts]) -> None:
    with psycopg.connect(str(settings.state_dsn), autocommit=True) as conn:
        impact.store(conn, rows)


def _row(run_id: str, send_at: datetime, *, variant: str = ALL_VARIANTS, counts: tuple[int, int, int, int], **kw):
    fields = {"push": "hello", "conversion": "made_offer", "within_seconds": 86400, "window_closed": True} | kw
    return ImpactCounts(run_id, "toy_daily", fields["push"], variant, fields["conversion"], fields["within_seconds"],
                        send_at, fields["window_closed"], *counts)  # fmt: skip


def test_a_closed_window_shows_rates_intervals_uplift_p_value_and_verdict(world: dict[str, object]) -> None:
    settings, result = _run(world)
    send_at = NOW - 3 * DAY  # both windows (24h, 2h) closed long ago
    run_id = _automation_run(settings, result.run_id, result.run_dir, send_at=send_at)
    _store(
        settings,
        [
            _row(run_id, send_at, counts=(2000, 240, 200, 10)),  # 12 % treated against 5 % held out
            _row(run_id, send_at, variant="short", counts=(1000, 130, 200, 10)),  # 13 %
            _row(run_id, send_at, conversion="active_again", within_seconds=7200, counts=(2000, 100, 200, 10)),
        ],
    )
    page = parse(build_report(settings, result.run_dir))
    assert "window closed at" in page.texts["impact-status"]
    rows = {(r[0], r[1], r[2]): r for r in page.rows("impact-table")[1:]}
    whole = rows[("hello", "all", "made_offer (24h)")]
    # 240 / 2000 = 12.00 %, 10 / 200 = 5.00 %, uplift +7.00 points
    assert whole[3:5] == ["240 / 2,000", "12.00 %"] and whole[6:8] == ["10 / 200", "5.00 %"]
    low, high = _wilson(240, 2000)
    assert whole[5] == f"{low * 100:.2f} – {high * 100:.2f} %"
    low, high = _newcombe(240, 2000, 10, 200)
    assert whole[9:11] == ["+7.00 pts", f"{low * 100:+.2f} to {high * 100:+.2f} pts"]
    assert whole[11] == "+140.0 %"  # 0.12 / 0.05 - 1
    # the pooled z of 12 % of 2,000 against 5 % of 200 is 2.97 (p 0.003): the score test agrees to well under 0.05
    assert float(whole[12]) < 0.01
    assert whole[13].startswith("the push raised conversion by +7.00 points")
    assert rows[("hello", "short", "made_offer (24h)")][4] == "13.00 %"
    # 100 / 2000 = 5 % against 5 %: no effect, and the verdict says how many more users per arm it would take
    same = rows[("hello", "all", "active_again (2h)")]
    assert same[9] == "+0.00 pts" and same[13].startswith("no detectable effect yet: need about")


def test_before_the_longest_window_has_passed_the_report_says_until_when(world: dict[str, object]) -> None:
    settings, result = _run(world)
    send_at = NOW - timedelta(hours=3)  # 2h window closed, the 24h one still open: the run waits for the longest
    run_id = _automation_run(settings, result.run_id, result.run_dir, send_at=send_at)
    _store(settings, [_row(run_id, send_at, window_closed=False, counts=(2000, 100, 200, 5))])
    page = parse(build_report(settings, result.run_dir))
    closes = (send_at + DAY).isoformat(timespec="seconds")
    assert page.texts["impact-status"].startswith(f"window still open until {closes}")
    assert "impact-table" not in page.tables  # counts that can still grow are not shown as a result
    assert "made_offer (within 24h)" in page.texts["impact"] and "200 user(s) held out" in page.texts["impact"]


def test_a_closed_window_not_measured_yet_says_so(world: dict[str, object]) -> None:
    settings, result = _run(world)
    _automation_run(settings, result.run_id, result.run_dir, send_at=NOW - 2 * DAY)
    page = parse(build_report(settings, result.run_dir))
    assert (
        "not measured yet" in page.texts["impact-status"] and "engine impact toy_daily" in page.texts["impact-status"]
    )


def test_a_run_without_conversions_has_no_impact_section(world: dict[str, object]) -> None:
    settings, result = _run(world)
    page = parse(build_report(settings, result.run_dir))
    assert "impact" not in page.texts and "impact" not in page.sections


def test_history_charts_treated_against_held_out_over_runs(world: dict[str, object]) -> None:
    settings, first = _run(world)
    _, second = _run(world)
    sent = [NOW - 4 * DAY, NOW - 3 * DAY]
    runs = [
        _automation_run(settings, r.run_id, r.run_dir, send_at=at) for r, at in zip((first, second), sent, strict=True)
    ]
    _store(
        settings,
        [
            _row(runs[0], sent[0], counts=(1000, 100, 100, 5)),  # 10 % against 5 %
            _row(runs[0], sent[0], push="bye", counts=(500, 40, 100, 5)),  # a second push of the run: summed
            _row(runs[0], sent[0], variant="short", counts=(300, 60, 100, 5)),  # variants: not in the history
            _row(runs[1], sent[1], counts=(1000, 80, 100, 8)),  # 8 % against 8 %
        ],
    )
    out = CliRunner().invoke(
        cli,
        ["report", "--history", "toy_daily"],
        env={
            "ENGINE_STATE_DSN": str(settings.state_dsn),
            "ENGINE_SOURCE_DSN": str(settings.source_dsn),
            "ENGINE_OUTPUT_DIR": str(settings.output_dir),
            "ENGINE_PROJECT_DIR": str(settings.project_dir),
        },
    )
    assert out.exit_code == 0, out.output
    path = Path(out.output.strip())
    page = parse(path)
    rows = page.rows("impact-history")[1:]
    # run 1: (100 + 40) / (1000 + 500) = 9.33 % treated, (5 + 5) / (100 + 100) = 5.00 % held out
    assert [r[2:5] + r[5:7] for r in rows] == [
        ["made_offer", "140 / 1,500", "9.33 %", "10 / 200", "5.00 %"],
        ["made_offer", "80 / 1,000", "8.00 %", "8 / 100", "8.00 %"],
    ]
    assert [r[7] for r in rows] == ["+4.33 pts", "+0.00 pts"]
    svg = path.read_text(encoding="utf-8")
    assert 'id="impact-chart"' in svg and "made_offer: treated" in svg and "made_offer: held out" in svg
