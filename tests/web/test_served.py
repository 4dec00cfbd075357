"""The operator app served by uvicorn on a real port: files and metrics over HTTP, requests only a socket can
send, the bound address as a Host name, and ``engine serve`` itself (JSON logs with secrets masked, SIGTERM, a
taken port)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from typing import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.config import Settings, resolve
from engine.pipeline import RunResult
from engine.web.server import RunningServer, start_in_thread
from tests.report.test_report import world  # noqa: F401  (fixture: toy products, two hostile names)
from tests.web.conftest import TOKEN


def test_page_report_and_csv_over_http(served: tuple[RunningServer, RunResult]) -> None:
    server, result = served
    page = httpx.get(server.url)
    assert page.status_code == 200 and result.run_id in page.text and page.headers["cache-control"] == "no-store"
    assert "server" not in page.headers
    report = httpx.get(f"{server.url}runs/{result.run_id}/report.html")
    assert report.status_code == 200 and "funnel-all_products" in report.text
    csv_name = result.manifest.output("all_products", test=False).file
    csv = httpx.get(f"{server.url}runs/{result.run_id}/{csv_name}")
    assert csv.status_code == 200 and csv.content == (result.run_dir / csv_name).read_bytes()
    assert httpx.get(f"{server.url}runs/{result.run_id}/..%2Fmanifest.json").status_code == 404


def test_health_ready_and_metrics(served: tuple[RunningServer, RunResult]) -> None:
    server, _ = served
    assert httpx.get(f"{server.url}healthz").text == "ok\n"
    assert httpx.get(f"{server.url}readyz").status_code == 200
    text = httpx.get(f"{server.url}metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # the run above finished as succeeded: the state collector sees it
    [sample] = [
        s for s in families["engine_state_last_success_timestamp_seconds"].samples if s.labels["audience"] == "toy"
    ]
    assert sample.value > 0


def _raw(server: RunningServer, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_no_host_or_two_hosts_get_400(served: tuple[RunningServer, RunResult]) -> None:
    server, _ = served
    for request in (
        b"GET /api/status HTTP/1.0\r\n\r\n",  # HTTP/1.0 may omit Host: refused all the same
        b"GET /api/status HTTP/1.0\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
    ):
        status_line = _raw(server, request).split(b"\r\n", 1)[0]
        assert status_line.split(b" ")[1] == b"400", (request, status_line)
    assert _raw(server, b"GET /api/status HTTP/1.0\r\nHost: localhost\r\n\r\n").split(b" ")[1] == b"200"


def test_bound_address_other_than_loopback_default(world: dict[str, object]) -> None:
    settings = resolve({"state_dsn": world["dsn"], "project_dir": world["project"]}, env={})
    server = start_in_thread(settings, host="127.0.0.2", port=0)
    try:
        assert server.url == f"http://127.0.0.2:{server.port}/"
        assert httpx.get(f"{server.url}api/status", headers={"Host": f"127.0.0.2:{server.port}"}).status_code == 200
        assert httpx.get(f"{server.url}api/status", headers={"Host": "evil.example"}).status_code == 400
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):  # stopped: the port is closed
        httpx.get(f"{server.url}healthz")


def _engine_serve(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-c", "from engine.cli.main import main; main()", "serve", *args]


def _env(settings: Settings) -> dict[str, str]:
    import os  # noqa: PLC0415

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")},
        "ENGINE_STATE_DSN": str(settings.state_dsn),
        "ENGINE_PROJECT_DIR": str(settings.project_dir),
        "ENGINE_OUTPUT_DIR": str(settings.output_dir),
        "ENGINE_SERVE_TOKEN": TOKEN,
        "ENGINE_LOG_FORMAT": "json",
    }


@pytest.fixture
def engine_serve(ran: tuple[Settings, RunResult]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    settings, _ = ran
    proc = subprocess.Popen(
        _engine_serve(settings, "--port", "0"),
        env=_env(settings),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    try:
        assert line.startswith("operator page: http://127.0.0.1:"), line + proc.stderr.read()
        yield proc, line.removeprefix("operator page: ").strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_engine_serve_logs_json_masks_the_token_and_stops_on_sigterm(
    engine_serve: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = engine_serve
    assert httpx.get(f"{url}healthz").text == "ok\n"
    # the token as a target: logged by the refusal and the action, masked in both
    assert httpx.post(f"{url}api/runs/{TOKEN}/cancel").status_code == 401
    assert httpx.post(f"{url}api/runs/{TOKEN}/cancel", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 409
    assert httpx.get(f"{url}api/status", headers={"Host": "evil.example"}).status_code == 400
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # not HTTP: uvicorn warns
        sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        sock.recv(1024)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    err = proc.stderr.read()
    lines = [json.loads(line) for line in err.splitlines()]  # every stderr line is one JSON object
    assert TOKEN not in err
    messages = [line["msg"] for line in lines]
    assert any(m.startswith("action refused: missing or wrong bearer") for m in messages)
    assert any(m.startswith("action cancel ") and m.endswith(": 409") for m in messages)
    assert "request refused: Host not allowed" in messages
    assert any(line["logger"].startswith("uvicorn") and line["level"] == "warning" for line in lines), messages


def test_engine_serve_on_a_taken_port_exits_2(ran: tuple[Settings, RunResult]) -> None:
    settings, _ = ran
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _engine_serve(settings, "--port", str(port)),
            env={**_env(settings), "ENGINE_LOG_FORMAT": "plain"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
