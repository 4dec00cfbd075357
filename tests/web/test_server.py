"""The operator app over real HTTP: read views, run files, health, metrics, and the bearer-token guard."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.config import resolve
from engine.pipeline import RunResult
from engine.web.server import RunningServer, start_in_thread
from tests.interpreter.test_toy_audience import make_project
from tests.report.test_report import world  # noqa: F401  (fixture: toy products, two hostile names)
from tests.web.conftest import TOKEN


def test_page_lists_runs_with_report_and_csv_links(served: tuple[RunningServer, RunResult]) -> None:
    server, result = served
    page = httpx.get(server.url)
    assert page.status_code == 200 and result.run_id in page.text
    csv_name = result.manifest.output("all_products", test=False).file
    report = httpx.get(f"{server.url}runs/{result.run_id}/report.html")
    assert report.status_code == 200 and "funnel-all_products" in report.text
    csv = httpx.get(f"{server.url}runs/{result.run_id}/{csv_name}")
    assert csv.status_code == 200 and csv.content == (result.run_dir / csv_name).read_bytes()
    # only files the manifest lists: not the manifest, not a path out of the run folder
    for name in ("manifest.json", "..%2F..%2Fetc%2Fpasswd", "nope.csv"):
        assert httpx.get(f"{server.url}runs/{result.run_id}/{name}").status_code == 404


def test_health_ready_and_metrics(served: tuple[RunningServer, RunResult]) -> None:
    server, _ = served
    assert httpx.get(f"{server.url}healthz").text == "ok\n"
    assert httpx.get(f"{server.url}readyz").status_code == 200
    text = httpx.get(f"{server.url}metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # the run above finished as succeeded: the state collector sees it
    [sample] = [s for s in families["engine_state_last_success_timestamp_seconds"].samples
                if s.labels["audience"] == "toy"]
    assert sample.value > 0


def test_readyz_fails_without_the_state_database(tmp_path: Path) -> None:
    settings = resolve({"state_dsn": "postgresql://postgres@127.0.0.1:1/none", "project_dir": make_project(
        tmp_path / "p")}, env={})
    server = start_in_thread(settings, port=0)
    try:
        ready = httpx.get(f"{server.url}readyz")
        assert ready.status_code == 503 and "state database unreachable" in ready.text
        assert httpx.get(f"{server.url}healthz").status_code == 200
    finally:
        server.stop()


def test_actions_need_the_bearer_token(served: tuple[RunningServer, RunResult],
                                       caplog: pytest.LogCaptureFixture) -> None:
    server, result = served
    url = f"{server.url}api/runs/{result.run_id}/cancel"
    with caplog.at_level(logging.WARNING, logger="engine.web"):
        assert httpx.post(url).status_code == 401
        assert httpx.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    refused = [r for r in caplog.records if r.getMessage().startswith("action refused")]
    assert len(refused) == 2 and all(TOKEN not in r.getMessage() for r in refused)
    answer = httpx.post(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code != 401          # accepted past the guard; what it does is the scheduler's
    assert httpx.post(f"{server.url}api/runs/x/explode").status_code == 404
