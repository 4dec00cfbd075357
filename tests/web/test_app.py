"""The operator app's routes through Starlette's test client: read views, run files, the actions' bearer token,
the Host allow-list, and short errors when the state database or a file is not there."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from engine.config import Settings, resolve
from engine.pipeline import RunResult
from engine.web.server import operator_app
from tests.interpreter.test_toy_audience import make_project
from tests.report.test_report import world  # noqa: F401  (fixture: toy products, two hostile names)
from tests.web.conftest import PAGE, TOKEN, client_for


def _csv(result: RunResult) -> str:
    return result.manifest.output("all_products", test=False).file


def test_page_and_status_list_the_run_with_report_and_csv_links(client: tuple[TestClient, RunResult]) -> None:
    http, result = client
    page = http.get("/")
    assert page.status_code == 200 and result.run_id in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8" and page.headers["cache-control"] == "no-store"
    assert f'href="/runs/{result.run_id}/{_csv(result)}"' in page.text
    status = http.get("/api/status")
    assert status.headers["content-type"] == "application/json"
    assert result.run_id in [run["run_id"] for run in status.json()["runs"]]


def test_run_files_are_the_report_and_the_files_the_manifest_lists(client: tuple[TestClient, RunResult]) -> None:
    http, result = client
    for path in (f"/runs/{result.run_id}", f"/runs/{result.run_id}/report.html"):
        report = http.get(path)
        assert report.status_code == 200 and "funnel-all_products" in report.text, path
    csv = http.get(f"/runs/{result.run_id}/{_csv(result)}")
    assert csv.status_code == 200 and csv.content == (result.run_dir / _csv(result)).read_bytes()
    assert csv.headers["content-type"] == "text/csv; charset=utf-8" and csv.headers["cache-control"] == "no-store"
    # not the manifest, not a path out of the run folder, not a file it did not write, not another run
    for name in ("manifest.json", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "nope.csv", "%2Fetc%2Fpasswd"):
        assert http.get(f"/runs/{result.run_id}/{name}").status_code == 404, name
    assert http.get(f"/runs/00000000-0000-0000-0000-000000000000/{_csv(result)}").status_code == 404


def test_run_files_outside_the_output_root_are_not_served(
    ran: tuple[Settings, RunResult], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, result = ran
    with (
        client_for(replace(settings, output_dir=tmp_path / "elsewhere")) as http,
        caplog.at_level(logging.WARNING, logger="engine.web"),
    ):
        for name in ("report.html", _csv(result)):
            assert http.get(f"/runs/{result.run_id}/{name}").status_code == 404, name
    assert [r.getMessage() for r in caplog.records].count(
        "run file refused: outside the output root (ENGINE_OUTPUT_DIR)"
    ) == 2


def test_report_or_csv_replaced_by_a_directory_is_a_short_error(client: tuple[TestClient, RunResult]) -> None:
    # issue 22 item 6b: the handler died on IsADirectoryError (no answer, a traceback on stderr)
    http, result = client
    for name in ("report.html", _csv(result)):
        path = result.run_dir / name
        path.unlink()
        path.mkdir()
        answer = http.get(f"/runs/{result.run_id}/{name}")
        assert answer.status_code == 500 and answer.text.startswith("unavailable"), (name, answer.text)
        assert len(answer.text) < 200 and str(result.run_dir) not in answer.text
    assert http.get("/").status_code == 200  # the page goes on


def test_without_the_state_database_readyz_and_run_files_say_so(tmp_path: Path) -> None:
    settings = resolve(
        {"state_dsn": "postgresql://postgres@127.0.0.1:1/none", "project_dir": make_project(tmp_path / "p")}, env={}
    )
    with client_for(settings) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.text.startswith("state database unreachable: ")
        assert http.get("/healthz").text == "ok\n"
        # the page shows the problem; a run file cannot be looked up
        assert "cannot connect to PostgreSQL" in http.get("/api/status").json()["problem"]
        answer = http.get("/runs/x/report.html")
        assert answer.status_code == 503 and answer.text.startswith("state database unavailable")


def test_readyz_reports_the_schedulers_worker(ran: tuple[Settings, RunResult]) -> None:
    settings, _ = ran
    for alive, status, text in ((True, 200, "ready\n"), (False, 503, "scheduler worker is not running\n")):
        with TestClient(
            operator_app(settings, bound=("127.0.0.1",), worker_alive=lambda a=alive: a), base_url=PAGE
        ) as http:
            answer = http.get("/readyz")
            assert (answer.status_code, answer.text) == (status, text)


def test_actions_need_the_bearer_token(client: tuple[TestClient, RunResult], caplog: pytest.LogCaptureFixture) -> None:
    http, result = client
    url = f"/api/runs/{result.run_id}/cancel"
    with caplog.at_level(logging.WARNING, logger="engine.web"):
        first = http.post(url)
        assert first.status_code == 401 and first.headers["www-authenticate"] == 'Bearer realm="audience-engine"'
        assert first.json() == {"ok": False, "message": "a bearer token is required for actions"}
        assert http.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.post(url, headers={"Authorization": TOKEN}).status_code == 401  # not a bearer
    refused = [r for r in caplog.records if r.getMessage().startswith("action refused")]
    assert len(refused) == 3 and all(TOKEN not in r.getMessage() for r in refused)
    assert {(r.action, r.target) for r in refused} == {("cancel", result.run_id)}  # type: ignore[attr-defined]
    # accepted past the guard: an audience run is no automation run, which the scheduler says (409)
    answer = http.post(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 409 and answer.json()["ok"] is False
    for path in ("/api/runs/x/explode", "/api/automations/x/cancel", "/api/runs/x/pause"):
        unknown = http.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (unknown.status_code, unknown.json()["message"]) == (404, "unknown action"), path


def test_no_token_configured_refuses_every_action(ran: tuple[Settings, RunResult]) -> None:
    settings, result = ran
    with client_for(replace(settings, serve_token=None)) as http:
        for header in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            assert http.post(f"/api/runs/{result.run_id}/cancel", headers=header).status_code == 401


# issue 22 item 5b: a page answering any Host can be read through DNS rebinding (a page on evil.example whose
# name then resolves to 127.0.0.1): run CSVs are PII
FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:8765",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "127.0.0.1@evil.example",
    "localhost:x",
    "[::1",
    "",
]


def test_a_foreign_host_header_gets_400(client: tuple[TestClient, RunResult], caplog: pytest.LogCaptureFixture) -> None:
    http, result = client
    with caplog.at_level(logging.WARNING, logger="engine.web"):
        for path in (
            "/",
            "/api/status",
            f"/runs/{result.run_id}/report.html",
            f"/runs/{result.run_id}/{_csv(result)}",
            "/nowhere",
        ):
            for host in FOREIGN_HOSTS:
                answer = http.get(path, headers={"Host": host})
                assert answer.status_code == 400, (path, host, answer.status_code)
                assert answer.headers["content-type"].startswith("text/plain")
                assert answer.headers["cache-control"] == "no-store"
                assert "Host" in answer.text and result.run_id not in answer.text and len(answer.text) < 200
    assert sum(r.getMessage() == "request refused: Host not allowed" for r in caplog.records) == 5 * len(FOREIGN_HOSTS)
    answer = http.post(
        f"/api/runs/{result.run_id}/cancel", headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 400
    # health and metrics carry no run data, but only their GET is let through on any Host
    assert http.post("/healthz", headers={"Host": "evil.example"}).status_code == 400


def test_default_allowed_hosts_are_the_bound_address_and_localhost(client: tuple[TestClient, RunResult]) -> None:
    http, _ = client
    for host in (
        "127.0.0.1",
        "127.0.0.1:8765",
        "localhost",
        "localhost:1234",
        "LocalHost.",
        "[::1]",
        "[::1]:8765",
        "[0:0::1]",
    ):
        answer = http.get("/api/status", headers={"Host": host})
        assert answer.status_code == 200, (host, answer.text)
    # health and metrics carry no run data: probes and scrapers address a replica by its IP
    for path in ("/healthz", "/readyz", "/metrics"):
        for method in ("GET", "HEAD"):
            assert http.request(method, path, headers={"Host": "10.1.2.3:8765"}).status_code == 200, (path, method)


def test_engine_serve_allowed_hosts_replaces_the_default(world: dict[str, object]) -> None:
    settings = resolve(
        {"state_dsn": world["dsn"], "project_dir": world["project"]},
        env={"ENGINE_SERVE_ALLOWED_HOSTS": "ops.example.com, Ops2.Example"},
    )
    assert settings.serve_allowed_hosts == ("ops.example.com", "Ops2.Example")
    with client_for(settings) as http:
        for host, status in (
            ("ops.example.com", 200),
            ("ops.example.com:443", 200),
            ("OPS2.example", 200),
            ("localhost", 400),
            ("127.0.0.1", 400),
            ("evil.example", 400),
        ):
            assert http.get("/api/status", headers={"Host": host}).status_code == status, host
