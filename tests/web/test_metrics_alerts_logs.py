"""Metrics move after a real send, the webhook fires on a failed run only, and logs hold no secrets.

The send goes through the engine's FCM client to the local fake FCM server; the
webhook is a local HTTP server that records what it is posted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine import api
from engine.config import resolve
from engine.logs import setup_logging
from engine.observe import metrics
from engine.observe.alerts import alerter_for
from engine.web.server import start_in_thread
from tests.fakes.delivery import AS_OF, World, delivery_db, fake_fcm, world, write_run  # noqa: F401
from tests.interpreter.test_toy_audience import make_project

OFFER_HEADER = ["user_id", "firstName", "product_name", "variantID"]


def _sample(name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_parse_and_move_after_a_send(world: World, tmp_path: Path) -> None:
    ids = world.add_users(3)
    world.fcm.script(world.tokens[ids[2]], "unregistered")  # one of three refused: UNREGISTERED
    run = write_run(
        tmp_path / "run", header=OFFER_HEADER, rows=[[u, "N", "P", "v"] for u in ids], run_id=str(uuid.uuid4())
    )
    sent, failed = (
        _sample("engine_pushes_sent_total", mode="live"),
        _sample("engine_pushes_failed_total", code="UNREGISTERED"),
    )
    report = world.send(run, template="offer_push")
    assert report.sent == 2
    # counters are process-wide, so compare before and after: +2 accepted, +1 UNREGISTERED
    assert _sample("engine_pushes_sent_total", mode="live") == sent + 2
    assert _sample("engine_pushes_failed_total", code="UNREGISTERED") == failed + 1
    names = {f.name for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert {
        "engine_runs",
        "engine_phase_duration_seconds",
        "engine_audience_size",
        "engine_pushes_in_doubt",
        "engine_push_retries",
        "engine_cadence_excluded",
        "engine_stalled_jobs_recovered",
        "engine_last_successful_run_timestamp_seconds",
    } <= names


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []
    failures_left = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Hook.failures_left:  # the first attempt fails: the alert is retried
            _Hook.failures_left -= 1
            self.send_response(503)
        else:
            _Hook.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received, _Hook.failures_left = [], 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_fires_on_a_failed_run_not_on_a_good_one(
    app_db: str, empty_db: str, webhook: str, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "p")
    base = {"state_dsn": app_db, "output_dir": tmp_path / "out", "project_dir": project, "alert_webhook_url": webhook}
    [good] = api.run(resolve({**base, "source_dsn": app_db}, env={}), selectors=["toy"], as_of=AS_OF)
    assert good.status == "empty"  # no products: a good run, nothing to alert about
    assert alerter_for(webhook).drain(10) and _Hook.received == []
    [bad] = api.run(resolve({**base, "source_dsn": empty_db}, env={}), selectors=["toy"], as_of=AS_OF)
    assert bad.status == "failed"  # no app schema in the source database
    assert alerter_for(webhook).drain(30)
    [alert] = _Hook.received  # delivered once, after one refused attempt
    assert alert["attachments"][0]["title"] == "run_failed" and "toy" in alert["text"]
    fields = {f["title"]: f["value"] for f in alert["attachments"][0]["fields"]}
    assert fields["run_id"] == bad.run_id


def test_logs_hold_no_dsn_password_or_full_token(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("json", verbose=True)
    fcm_token = "cXk2sd9fQwE:APA91b" + "Z" * 120  # shaped like a real FCM registration token
    [uid] = world.add_users(1)
    world.query("UPDATE devices SET token = %s WHERE user_id = %s RETURNING 1", (fcm_token, uid))
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=[[uid, "N", "P", "v"]], run_id=str(uuid.uuid4()))
    password_dsn = "postgresql://app:s3cret-pw@127.0.0.1:1/none"
    logging.getLogger("engine.test").info(
        "token %s via %s", fcm_token, password_dsn, extra={"dsn": password_dsn, "authorization": "Bearer abc.def"}
    )
    world.send(run, template="offer_push")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all("ts" in line for line in lines)  # JSON lines, every one
    assert fcm_token not in err and "s3cret-pw" not in err and "abc.def" not in err
    assert "token cXk2sd9f… via" in lines[0]["msg"]  # truncated, still recognisable
    batches = [line for line in lines if line.get("event") == "batch"]
    assert batches and all(line["run_id"] and line["audience"] and line["phase"] == "send" for line in batches)


def test_run_log_events_carry_run_id_and_audience(
    app_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("json")
    settings = resolve(
        {
            "source_dsn": app_db,
            "state_dsn": app_db,
            "output_dir": tmp_path / "out",
            "project_dir": make_project(tmp_path / "p"),
        },
        env={},
    )
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    queries = [line for line in lines if line["msg"] == "query done"]
    assert len(queries) == 2 and all(line["run_id"] == result.run_id for line in queries)
    [finished] = [line for line in lines if line.get("event") == "run_finished"]
    assert finished["audience"] == "toy" and finished["phase"] == "run"


def _scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_run_moves_the_run_metrics_on_the_served_app(app_db: str, tmp_path: Path) -> None:
    settings = resolve(
        {
            "source_dsn": app_db,
            "state_dsn": app_db,
            "output_dir": tmp_path / "out",
            "project_dir": make_project(tmp_path / "p"),
        },
        env={},
    )
    server = start_in_thread(settings, host="127.0.0.1", port=0)
    try:
        before, started = _scrape(server.url), time.time()
        [result] = api.run(settings, selectors=["toy"], as_of=AS_OF)
        after = _scrape(server.url)
    finally:
        server.stop()

    def moved(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after[key] - before.get(key, 0.0)

    assert moved("engine_runs_total", audience="toy", automation="", status=str(result.status)) == 1
    assert moved("engine_phase_duration_seconds_count", phase="run") == 1
    # set, per output, by this run: each production output's gauge holds its row count (the registry is the
    # process's, so another test's run of an audience also named "toy" may have left other outputs beside them)
    sizes = {
        dict(labels)["output"]: value
        for (name, labels), value in after.items()
        if name == "engine_audience_size" and dict(labels)["audience"] == "toy"
    }
    produced = {o.name: o.rows for o in result.manifest.production_outputs}
    assert produced and {name: sizes.get(name) for name in produced} == produced, sizes
    assert (
        after[
            ("engine_last_successful_run_timestamp_seconds", frozenset({"automation": "", "audience": "toy"}.items()))
        ]
        >= started
    )
    # read from the state database at scrape time: what a read-only `engine serve` shows too
    assert after[("engine_state_last_success_timestamp_seconds", frozenset({"audience": "toy"}.items()))] >= started - 1


def test_a_send_moves_retries_and_cadence_exclusions(world: World, tmp_path: Path) -> None:
    recent, flaky = world.add_users(2)
    with psycopg.connect(world.dsn) as conn:  # a layer-3 push 24 h ago: inside the 72 h cooldown
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at)"
            " VALUES (%s, 3, now() - interval '24 hours')",
            (recent,),
        )
    world.fcm.script(world.tokens[flaky], "unavailable", times=1)  # a 503 once, then accepted
    retries = _sample("engine_push_retries_total")
    excluded = _sample("engine_cadence_excluded_total", rule="layer_3_cooldown_hours")
    run = write_run(
        tmp_path / "run", header=OFFER_HEADER, rows=[[u, "N", "P", "v"] for u in (recent, flaky)], run_id=flaky
    )
    report = world.send(run, template="offer_push")
    assert (report.sent, report.cadence_excluded) == (1, {"layer_3_cooldown_hours": 1})
    assert _sample("engine_push_retries_total") == retries + 1
    assert _sample("engine_cadence_excluded_total", rule="layer_3_cooldown_hours") == excluded + 1
