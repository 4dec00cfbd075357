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


# issue 22 item 5b: a page answering any Host can be read through DNS rebinding (a page on evil.example whose
# name then resolves to 127.0.0.1): run CSVs are PII
FOREIGN_HOSTS = ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil.example",
                 "127.0.0.1@evil.example", ""]


def _raw_get(server: RunningServer, request: bytes) -> bytes:
    import socket  # noqa: PLC0415

    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_foreign_host_header_gets_400(served: tuple[RunningServer, RunResult]) -> None:
    server, result = served
    csv_name = result.manifest.output("all_products", test=False).file
    for path in ("", "api/status", f"runs/{result.run_id}/report.html", f"runs/{result.run_id}/{csv_name}"):
        for host in FOREIGN_HOSTS:
            answer = httpx.get(f"{server.url}{path}", headers={"Host": host})
            assert answer.status_code == 400, (path, host, answer.status_code)
            assert answer.headers["content-type"].startswith("text/plain")
            assert "Host" in answer.text and result.run_id not in answer.text and len(answer.text) < 200
    answer = httpx.post(f"{server.url}api/runs/{result.run_id}/cancel",
                        headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    # no Host at all (HTTP/1.0): refused too
    assert _raw_get(server, b"GET /api/status HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 400")


def test_default_allowed_hosts_are_the_bound_address_and_localhost(served: tuple[RunningServer, RunResult]) -> None:
    server, result = served
    port = server.server.server_address[1]
    for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"localhost:{port}", "LocalHost.", "[::1]",
                 f"[::1]:{port}"):
        answer = httpx.get(f"{server.url}api/status", headers={"Host": host})
        assert answer.status_code == 200, (host, answer.text)
    # health and metrics carry no run data: probes and scrapers address a replica by its IP
    for path in ("healthz", "readyz", "metrics"):
        assert httpx.get(f"{server.url}{path}", headers={"Host": "10.1.2.3:8765"}).status_code == 200


def test_bound_address_other_than_loopback_default(world: dict[str, object]) -> None:  # noqa: F811
    settings = resolve({"state_dsn": world["dsn"], "project_dir": world["project"]}, env={})
    server = start_in_thread(settings, host="127.0.0.2", port=0)
    try:
        port = server.server.server_address[1]
        assert httpx.get(f"{server.url}api/status", headers={"Host": f"127.0.0.2:{port}"}).status_code == 200
        assert httpx.get(f"{server.url}api/status", headers={"Host": "evil.example"}).status_code == 400
    finally:
        server.stop()


def test_engine_serve_allowed_hosts_replaces_the_default(world: dict[str, object]) -> None:  # noqa: F811
    settings = resolve({"state_dsn": world["dsn"], "project_dir": world["project"]},
                       env={"ENGINE_SERVE_ALLOWED_HOSTS": "ops.example.com, Ops2.Example"})
    assert settings.serve_allowed_hosts == ("ops.example.com", "Ops2.Example")
    server = start_in_thread(settings, port=0)
    try:
        for host, status in (("ops.example.com", 200), ("ops.example.com:443", 200), ("OPS2.example", 200),
                             ("localhost", 400), ("127.0.0.1", 400), ("evil.example", 400)):
            assert httpx.get(f"{server.url}api/status", headers={"Host": host}).status_code == status, host
    finally:
        server.stop()


def test_report_or_csv_replaced_by_a_directory_is_a_short_error(served: tuple[RunningServer, RunResult]) -> None:
    # issue 22 item 6b: the handler died on IsADirectoryError (no answer, a traceback on stderr)
    server, result = served
    csv_name = result.manifest.output("all_products", test=False).file
    for name in ("report.html", csv_name):
        path = result.run_dir / name
        path.unlink()
        path.mkdir()
        answer = httpx.get(f"{server.url}runs/{result.run_id}/{name}")
        assert answer.status_code == 500 and answer.text.startswith("unavailable"), (name, answer.text)
        assert len(answer.text) < 200 and str(result.run_dir) not in answer.text
    assert httpx.get(server.url).status_code == 200     # the page goes on
