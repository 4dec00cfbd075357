"""The operator page and a run report in real headless Chromium (Debian's /usr/bin/chromium, offline).

Installed by .ci/run when missing; without it these tests skip locally and fail under CI.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from engine import api
from engine.config import resolve
from engine.timeutil import utcnow
from engine.web.server import RunningServer, start_in_thread
from tests.report.test_report import world  # noqa: F401  (fixture)
from tests.web.conftest import TOKEN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run should have installed Debian's chromium")
    pytest.skip("no chromium: apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def _open(browser: object, url: str, on_dialog: Callable[[object], None] | None = None) -> tuple[object, list[str]]:
    """The page at ``url``; console errors, page errors, failed requests and dialogs are problems (a dialog the
    test expects goes to ``on_dialog`` instead)."""
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("dialog", on_dialog or (lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss())))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, problems


def test_report_file_opens_offline_with_a_visible_funnel(browser: object, served: tuple[RunningServer, object]) -> None:
    _, result = served
    page, problems = _open(browser, (result.run_dir / "report.html").as_uri())  # type: ignore[attr-defined]
    assert page.locator("#funnel-all_products svg").is_visible()
    assert page.locator("#funnel-all_products .funnel-table").inner_text().count("\n") >= 5
    # the hostile product name is shown as text; had it run, alert() would have opened a dialog
    assert page.locator("text=<script>alert(1)</script>").count() >= 1
    assert problems == []
    page.close()


def test_operator_page_loads_and_links_the_report(browser: object, served: tuple[RunningServer, object]) -> None:
    server, result = served
    page, problems = _open(browser, server.url)
    assert page.locator(f"tr[data-run='{result.run_id}']").is_visible()  # type: ignore[attr-defined]
    page.locator(f"tr[data-run='{result.run_id}'] a", has_text="report").click()  # type: ignore[attr-defined]
    page.wait_for_load_state("load")
    assert page.locator("#funnel-all_products svg").is_visible()
    assert problems == []
    page.close()


SCHEDULES = """\
version: 1
templates:
  toy_push:
    audience: toy
    output: all_products
    layer: 2
    title: "[[var:name]] is wanted"
    body: "Have a look"
automations:
  - id: toy_daily
    audience: toy
    schedule: {cron: "0 9 * * *", timezone: America/Chicago}
    lead: {generate: 30m, test: 25m}
    pushes: [toy_push]
"""


def test_cancel_asks_first_is_refused_without_token_accepted_with_it_and_the_tables_refresh(
    browser: object, world: dict[str, object]
) -> None:
    project = world["project"]
    (project / "schedules.yaml").write_text(SCHEDULES)  # type: ignore[operator]
    settings = resolve(
        {
            "source_dsn": world["dsn"],
            "state_dsn": world["dsn"],
            "output_dir": world["out"],
            "project_dir": project,
            "serve_token": TOKEN,
        },
        env={},
    )
    at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    triggered = api.trigger_automation(settings, "toy_daily", test=True, at=at)
    assert triggered.run_id
    server = start_in_thread(settings, port=0)
    try:
        dialogs: list[str] = []
        answer = {"accept": False}

        def on_dialog(dialog: object) -> None:
            dialogs.append(dialog.message)  # type: ignore[attr-defined]
            (dialog.accept if answer["accept"] else dialog.dismiss)()  # type: ignore[attr-defined]

        page, problems = _open(browser, server.url, on_dialog)
        row = page.locator(f"tr[data-open-run='{triggered.run_id}']")  # type: ignore[attr-defined]
        # send (local) is in the automation's own zone (America/Chicago), not UTC
        local = at.astimezone(ZoneInfo("America/Chicago")).strftime("%Y-%m-%d %H:%M:%S %Z")
        assert row.is_visible() and local in row.inner_text() and "America/Chicago" not in row.inner_text()
        assert page.locator("tr[data-automation='toy_daily']").is_visible()  # type: ignore[attr-defined]
        # Last runs: the automation and every outcome, sent / failed / in doubt among them
        headers = page.locator("#runs th").all_inner_texts()  # type: ignore[attr-defined]
        assert headers[:4] == ["started", "automation", "audience", "status"]
        assert ["sent", "failed", "in doubt", "skipped by cadence", "held out", "cancelled"] == headers[5:11]

        row.locator("button.cancel").click()  # asked first; dismissed: nothing is sent
        assert dialogs == [f"Cancel run {triggered.run_id[:8]}? Nothing more of it is sent."]
        assert page.locator("#action-result").inner_text() == ""  # type: ignore[attr-defined]
        answer["accept"] = True
        row.locator("button.cancel").click()
        page.wait_for_function("document.getElementById('action-result').dataset.status")  # type: ignore[attr-defined]
        assert page.locator("#action-result").inner_text().startswith("401")  # type: ignore[attr-defined]
        assert _status(world, triggered.run_id) == "scheduled"
        page.fill("#token", TOKEN)  # type: ignore[attr-defined]
        page.evaluate("delete document.getElementById('action-result').dataset.status")  # type: ignore[attr-defined]
        row.locator("button.cancel").click()
        page.wait_for_function("document.getElementById('action-result').dataset.status")  # type: ignore[attr-defined]
        assert page.locator("#action-result").inner_text().startswith("200")  # type: ignore[attr-defined]
        assert _status(world, triggered.run_id) == "cancelled"
        # the action's result refreshed the tables: the cancelled run is no longer open
        page.wait_for_function(  # type: ignore[attr-defined]
            f"!document.querySelector(\"tr[data-open-run='{triggered.run_id}']\")"
        )
        # a pause shows its reason
        api.pause_automation(settings, "toy_daily", reason="copy under review")
        page.reload()  # type: ignore[attr-defined]
        paused = page.locator("tr[data-automation='toy_daily']").inner_text()  # type: ignore[attr-defined]
        assert "paused: copy under review" in paused
        # the 401 is a browser console error only for the refused fetch; nothing else may complain
        assert [p for p in problems if "401" not in p] == []
        page.close()
    finally:
        server.stop()


def _status(world: dict[str, object], run_id: str) -> str:
    with psycopg.connect(str(world["dsn"])) as conn:
        return conn.execute("SELECT status FROM engine.automation_runs WHERE id = %s", (run_id,)).fetchone()[0]
