"""The operator page's latest uplift per automation and /metrics' conversion counts, from stored engine.impact rows.

Two runs of one automation are recorded (tests/report/test_impact_report.py's helpers) with measured rows:
the page shows the later one only, /metrics sums both. Numbers worked out by hand in the comments.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from engine.config import Settings
from engine.pipeline import RunResult
from engine.web.server import start_in_thread
from tests.fixtures.htmlpage import parse
from tests.report.test_impact_report import DAY, NOW, _automation_run, _row, _store
from tests.report.test_report import world  # noqa: F401  (fixture)
from tests.web.conftest import client_for


def _two_measured_runs(settings: Settings, result: RunResult) -> list[str]:
    sent = [NOW - 5 * DAY, NOW - 4 * DAY]
    runs = [_automation_run(settings, result.run_id, result.run_dir, send_at=at) for at in sent]
    _store(
        settings,
        [
            _row(runs[0], sent[0], counts=(1000, 50, 100, 5)),  # 5 % against 5 %
            _row(runs[1], sent[1], counts=(2000, 240, 200, 10)),  # 12 % against 5 %: +7 points
            _row(runs[1], sent[1], variant="short", counts=(1000, 130, 200, 10)),  # a variant: not on the page
            _row(runs[1], sent[1], conversion="active_again", within_seconds=7200, counts=(2000, 100, 200, 10)),
            # a later run whose window is still open: neither the page's latest nor in /metrics
            _row(runs[1], NOW, push="later", window_closed=False, counts=(10, 9, 10, 0)),
        ],
    )
    return runs


def test_the_page_shows_each_automations_latest_uplift_with_its_verdict(ran: tuple[Settings, RunResult]) -> None:
    settings, result = ran
    runs = _two_measured_runs(settings, result)
    with client_for(settings) as http:
        page = parse(http.get("/").text)
        status = http.get("/api/status").json()
    rows = page.rows("impact")[1:]
    assert [r[0] for r in rows] == ["toy_daily", "toy_daily"] and {r[1][-8:] for r in rows} == {runs[1][:8]}
    by_conversion = {r[3]: r for r in rows}
    made = by_conversion["made_offer (24h)"]
    # 240 / 2000 = 12.00 %, 10 / 200 = 5.00 %: +7.00 points, p well under 0.05 (pooled z 2.97)
    assert made[4:7] == ["12.00 % of 2,000", "5.00 % of 200", "+7.00 pts"]
    assert made[9].startswith("the push raised conversion by +7.00 points")
    assert by_conversion["active_again (2h)"][9].startswith("no detectable effect yet")
    assert {(i["push"], i["conversion"], i["variant"]) for i in status["impact"]} == {
        ("hello", "made_offer", ""),
        ("hello", "active_again", ""),
    }
    [made_json] = [i for i in status["impact"] if i["conversion"] == "made_offer"]
    assert made_json["comparison"]["treated_rate"] == 0.12 and made_json["comparison"]["significant"] is True


def test_no_measured_run_says_so(ran: tuple[Settings, RunResult]) -> None:
    settings, _ = ran
    with client_for(settings) as http:
        page = parse(http.get("/").text)
    assert page.rows("impact")[1][0].startswith("no run measured yet")


def test_metrics_expose_conversions_and_users_per_arm(ran: tuple[Settings, RunResult]) -> None:
    settings, result = ran
    _two_measured_runs(settings, result)
    server = start_in_thread(settings, host="127.0.0.1", port=0)
    try:
        text = httpx.get(server.url + "metrics", timeout=10).text
    finally:
        server.stop()

    samples = {
        (s.name, s.labels["conversion"], s.labels["arm"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("automation") == "toy_daily" and "arm" in s.labels
    }

    def value(name: str, conversion: str, arm: str) -> float:
        return samples[(name, conversion, arm)]

    # made_offer over both closed runs (push-level rows only): treated 50 + 240 of 1000 + 2000, held out 5 + 10
    # of 100 + 200; the open-window row and the variant row are not counted
    assert value("engine_automation_conversions", "made_offer", "treated") == 290
    assert value("engine_automation_conversions", "made_offer", "held_out") == 15
    assert value("engine_automation_conversion_users", "made_offer", "treated") == 3000
    assert value("engine_automation_conversion_users", "made_offer", "held_out") == 300
    assert value("engine_automation_conversions", "active_again", "treated") == 100
    assert value("engine_automation_conversion_users", "active_again", "held_out") == 200
