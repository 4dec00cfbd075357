"""The operator page and a run report in real headless Chromium (Debian's /usr/bin/chromium, offline).

Installed by .ci/run when missing; without it these tests skip locally and fail under CI.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Iterator

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


def _open(browser: object, url: str) -> tuple[object, list[str]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
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


def test_cancel_button_refused_without_token_accepted_with_it(browser: object, world: dict[str, object]) -> None:
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
    at = utcnow() + timedelta(hours=2)
    triggered = api.trigger_automation(settings, "toy_daily", test=True, at=at)
    server = start_in_thread(settings, port=0)
    try:
        page, problems = _open(browser, server.url)
        row = page.locator(f"tr[data-open-run='{triggered.run_id}']")  # type: ignore[attr-defined]
        assert row.is_visible() and "America/Chicago" not in row.inner_text()  # local time shown as CST/CDT
        assert page.locator("tr[data-automation='toy_daily']").is_visible()  # type: ignore[attr-defined]
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
        # the 401 is a browser console error only for the refused fetch; nothing else may complain
        assert [p for p in problems if "401" not in p] == []
        page.close()
    finally:
        server.stop()


def _status(world: dict[str, object], run_id: str) -> str:
    with psycopg.connect(str(world["dsn"])) as conn:
        return conn.execute("SELECT status FROM engine.automation_runs WHERE id = %s", (run_id,)).fetchone()[0]
