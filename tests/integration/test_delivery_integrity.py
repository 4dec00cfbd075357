"""Delivery integrity with real processes (issue 12): concurrent sends hold cadence, kill -9 leaves only what was
really in flight in doubt, --as-of never moves a live send's cadence clock, the send status never lies.

Every count is taken where it matters: at the fake FCM server (accepted requests per device token) and in the
state database, never from the sender's own report alone.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.errors import DeliveryError
from tests.fakes.delivery import (  # noqa: F401
    World,
    delivery_db,
    fake_fcm,
    world,
    write_csv,
    write_run,
)
from tests.integration.test_delivery_process import environment

ENGINE = [sys.executable, "-c", "from engine.cli.main import main; main()", "--json", "send"]
OFFER_HEADER = ["user_id", "firstName", "product_name", "variantID"]
# kill -9 rounds of one send, and its size. The run (20 rounds of a 5,000-push send) takes minutes on the
# shared 2-core box; the suite keeps 3 rounds of 1,500 pushes. Run the full one with
# ENGINE_TEST_KILL_ROUNDS=20 ENGINE_TEST_KILL_PUSHES=5000 (results in the closing note of issue 12).
KILL_ROUNDS = int(os.environ.get("ENGINE_TEST_KILL_ROUNDS", "3"))
KILL_PUSHES = int(os.environ.get("ENGINE_TEST_KILL_PUSHES", "1500"))
IN_DOUBT_LIMIT = 150  # the bound at the default settings (64 in flight: window 128)


def offer_rows(ids: list[str]) -> list[list[str]]:
    return [[uid, f"Name{i}", f"Jordan {i}", f"v-{i}"] for i, uid in enumerate(ids)]


def spawn(world: World, *args: str, concurrency: int | None = 4) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ENGINE, *args], env=environment(world, concurrency), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any]]:
    out, err = proc.communicate(timeout=300)
    assert out.strip(), err
    return proc.returncode, json.loads(out)


def statuses(world: World, send_id: str) -> dict[str, str]:
    """user id -> ledger status of one send."""
    return dict(world.query("SELECT user_id::text, status FROM engine.send_items WHERE send_id = %s", (send_id,)))


def send_status(world: World, send_id: str) -> tuple[str, str, str | None]:
    """(what the row says, what engine.send_status derives, last_error)."""
    [row] = world.query(
        "SELECT s.status, v.status, s.last_error FROM engine.sends AS s"
        " JOIN engine.send_status AS v USING (send_id) WHERE send_id = %s",
        (send_id,),
    )
    return row


def test_four_concurrent_sends_push_each_user_at_most_as_cadence_allows(world: World, tmp_path: Path) -> None:
    ids = world.add_users(400)
    run_a = write_run(
        tmp_path / "run_a",
        header=OFFER_HEADER,
        rows=offer_rows(ids[:300]),
        run_id="0a0a0a0a-0000-4000-8000-000000000001",
    )
    run_b = write_run(
        tmp_path / "run_b",
        header=OFFER_HEADER,
        rows=offer_rows(ids[150:]),
        run_id="0b0b0b0b-0000-4000-8000-000000000002",
    )
    adhoc = write_csv(tmp_path / "adhoc.csv", ["user_id"], [[u] for u in ids[50:350]])
    world.fcm.slow(0.002)
    # four layer-3 sends with four send ids: a run folder, that run's CSV sent directly, another run, an ad hoc CSV
    procs = [
        spawn(world, str(run_a), "--template", "offer_push"),
        spawn(world, str(run_a / "offer_creators.csv"), "--template", "offer_push"),
        spawn(world, str(run_b), "--template", "offer_push"),
        spawn(world, str(adhoc), "--title", "Hi", "--body", "b", "--layer", "3"),
    ]
    reports = [finish(proc) for proc in procs]
    assert all(code == 0 for code, _ in reports), reports
    assert len({report["send_id"] for _, report in reports}) == 4
    # layer 3 allows one push per user per 72 h, and everyone is in at least one audience: exactly one each
    accepted = world.fcm.accepted()
    assert sorted(accepted[world.tokens[uid]] for uid in ids) == [1] * 400
    # audiences of 300 + 300 + 250 + 300 = 1,150 rows: 400 pushed, the other 750 held back by the cooldown
    assert sum(report["sent"] for _, report in reports) == 400
    assert sum(sum(report["cadence_excluded"].values()) for _, report in reports) == 750
    assert world.query(
        "SELECT count(*), count(DISTINCT user_id) FROM engine.user_notifications"
        " WHERE user_id = ANY(%s::uuid[]) AND layer_id = 3",
        (ids,),
    ) == [(400, 400)]


def test_kill_9_at_random_points_leaves_only_what_was_in_flight_in_doubt(world: World, tmp_path: Path) -> None:
    seed = int(os.environ.get("ENGINE_TEST_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    ids = world.add_users(KILL_PUSHES)
    csv = write_csv(tmp_path / "crash.csv", ["user_id"], [[u] for u in ids])
    args = [str(csv), "--title", "t", "--body", "b", "--layer", "1", "--send-id", f"crash-{seed}"]
    token_user = {world.tokens[u]: u for u in ids}
    in_doubt: list[tuple[int, int]] = []  # per round: (rows in doubt, of which the server saw)
    for _ in range(KILL_ROUNDS):
        before = sum(world.fcm.attempts().values())
        proc = spawn(world, *args, concurrency=None)  # the default settings: 64 in flight
        target = before + rng.randint(1, max(1, (KILL_PUSHES - before) // (KILL_ROUNDS + 1)))
        deadline = time.monotonic() + 120
        while sum(world.fcm.attempts().values()) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.kill()
        proc.wait()
        time.sleep(0.3)  # let the server finish reading requests that left before the kill
        rows = statuses(world, f"crash-{seed}")
        doubt = {u for u, status in rows.items() if status == "in_flight"}
        seen = {token_user[t] for t in world.fcm.attempts() if t in token_user}
        seen_unrecorded = {u for u in seen if rows.get(u) == "in_flight"}
        committed_seen = {u for u in seen if rows.get(u) not in ("in_flight", "pending")}
        # every push the server saw is either committed with its answer or in doubt, nothing else
        assert seen == seen_unrecorded | committed_seen, f"seed {seed}"
        assert len(doubt) <= IN_DOUBT_LIMIT, f"seed {seed}: {len(doubt)} in doubt"
        in_doubt.append((len(doubt), len(seen_unrecorded)))
        # the derived status tells the truth: the row says 'sending', its holder is gone
        assert send_status(world, f"crash-{seed}")[1] in ("interrupted", "completed", "completed_in_doubt")
    # resumes in this process (the same code path as the CLI's, without another interpreter start)
    defaults = world.with_settings(fcm_concurrency=64)
    report = defaults.send(csv, title="t", body="b", layer=1, send_id=f"crash-{seed}")
    print(f"kill -9 rounds (seed {seed}): in doubt / of which the server saw = {in_doubt}")
    accepted = world.fcm.accepted()
    assert max(accepted[world.tokens[u]] for u in ids) == 1, f"seed {seed}: a push went out twice"
    doubted = report.in_flight_unknown
    assert doubted == sum(n for n, _ in in_doubt)
    assert report.sent + doubted == KILL_PUSHES
    assert (report.status, report.exit_code) == (("completed_in_doubt", 4) if doubted else ("completed", 0))
    if doubted:
        assert f"completed with {doubted} in doubt" in report.message
    # in-doubt pushes count for cadence: recorded in user_notifications as such
    assert world.query(
        "SELECT delivery, count(*) FROM engine.user_notifications WHERE send_key LIKE %s GROUP BY 1 ORDER BY 1",
        (f"crash-{seed}:%",),
    ) == ([("in_doubt", doubted)] if doubted else []) + [("sent", KILL_PUSHES - doubted)]
    # at least once on request: --resend-in-flight sends the doubted ones again, nobody is missing
    again = defaults.send(csv, title="t", body="b", layer=1, send_id=f"crash-{seed}", resend_in_flight=True)
    assert (again.exit_code, again.status, again.sent, again.sent_now) == (0, "completed", KILL_PUSHES, doubted)
    accepted = world.fcm.accepted()
    assert min(accepted[world.tokens[u]] for u in ids) == 1
    assert world.query(
        "SELECT delivery, count(*) FROM engine.user_notifications WHERE send_key LIKE %s GROUP BY 1",
        (f"crash-{seed}:%",),
    ) == [("sent", KILL_PUSHES)]


def test_as_of_never_moves_the_cadence_clock_of_a_live_send(world: World, tmp_path: Path) -> None:
    pushed, fresh = world.add_users(2)
    with psycopg.connect(world.dsn) as conn:  # a layer-3 push a day ago: inside the 72 h cooldown, now
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at)"
            " VALUES (%s, 3, now() - interval '1 day')",
            (pushed,),
        )
    csv = write_csv(tmp_path / "l3.csv", ["user_id"], [[pushed], [fresh]])
    args = ["--json", "send", str(csv), "--title", "t", "--body", "b", "--layer", "3"]
    env = environment(world)
    refused = CliRunner().invoke(cli, [*args, "--as-of", "2020-01-01T00:00:00Z"], env=env)
    assert refused.exit_code == 2 and "--as-of is for dry runs only" in json.loads(refused.stdout)["error"]["message"]
    assert world.fcm.attempts() == {}
    # a dry run may look back: in 2020 the push of a day ago had not happened, so both were eligible
    dry = CliRunner().invoke(cli, [*args, "--dry-run", "--as-of", "2020-01-01T00:00:00Z"], env=env)
    assert dry.exit_code == 0, dry.output
    assert [json.loads(dry.stdout)[k] for k in ("status", "remaining", "cadence_excluded")] == ["dry_run", 2, {}]
    live = CliRunner().invoke(cli, args, env=env)
    assert live.exit_code == 0, live.output
    assert [json.loads(live.stdout)[k] for k in ("sent", "cadence_excluded")] == [1, {"layer_3_cooldown_hours": 1}]
    assert set(world.fcm.accepted()) == {world.tokens[fresh]}


def test_a_failing_resume_leaves_a_truthful_status(world: World, tmp_path: Path) -> None:
    ids = world.add_users(200)
    csv = write_csv(tmp_path / "truth.csv", ["user_id"], [[u] for u in ids])
    args = [str(csv), "--title", "t", "--body", "b", "--layer", "1", "--send-id", "truthful"]
    world.fcm.slow(0.02)
    proc = spawn(world, *args)
    deadline = time.monotonic() + 60
    while sum(world.fcm.accepted().values()) < 20:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    assert send_status(world, "truthful")[:2] == ("sending", "sending")  # really running: both say so
    proc.kill()
    proc.wait()
    assert send_status(world, "truthful")[:2] == ("sending", "interrupted")  # the row cannot know; the view does
    world.fcm.heal()
    world.fcm.reject_oauth("invalid_grant")  # the resume's credentials are refused
    with pytest.raises(DeliveryError, match="rejected by the OAuth server"):
        world.send(csv, title="t", body="b", layer=1, send_id="truthful")
    row, derived, last_error = send_status(world, "truthful")
    assert (row, derived) == ("aborted", "aborted") and "rejected by the OAuth server" in (last_error or "")
    world.fcm.reject_oauth(None)
    done = world.send(csv, title="t", body="b", layer=1, send_id="truthful")
    assert done.exit_code in (0, 4) and done.sent + done.in_flight_unknown == 200
    assert send_status(world, "truthful")[:2] == (done.status, done.status)


def test_a_nul_byte_in_the_csv_is_refused_by_dry_run_and_real_send_alike(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    csv = tmp_path / "nul.csv"
    csv.write_bytes(f"user_id,firstName\r\n{uid},A\x00nn\r\n".encode())
    env = environment(world)
    for extra in (["--dry-run"], []):
        result = CliRunner().invoke(
            cli,
            ["--json", "send", str(csv), "--title", "Hi [[var:firstName]]", "--body", "b", "--layer", "1", *extra],
            env=env,
        )
        error = json.loads(result.stdout)["error"]
        assert result.exit_code == 2 and "NUL byte" in error["message"], result.output
        assert error["location"].endswith("nul.csv:2")
    assert world.fcm.attempts() == {}
    assert world.query("SELECT count(*) FROM engine.sends WHERE source_file = %s", (str(csv),)) == [(0,)]
