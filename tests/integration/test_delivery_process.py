"""`engine send` as a real process: kill -9 and SIGTERM mid-send, then resume; CLI output and exit codes.

The fake FCM server runs in this process and counts what it accepted per token, so "each user
exactly once" is checked where it matters: at the receiving end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.fakes.delivery import AS_OF, World, delivery_db, fake_fcm, world, write_csv  # noqa: F401

USERS = 300
MAX_IN_DOUBT = 20


def environment(world: World, concurrency: int | None = 4) -> dict[str, str]:
    """The environment of an `engine send` process against this world (default concurrency when None)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update(
        ENGINE_PROJECT_DIR=str(world.project),
        ENGINE_SOURCE_DSN=str(world.settings.source_dsn),
        ENGINE_STATE_DSN=world.dsn,
        ENGINE_FCM_CREDENTIALS=str(world.settings.fcm_credentials),
        ENGINE_FCM_ENDPOINT=world.fcm.endpoint,
    )
    if concurrency is not None:
        env["ENGINE_FCM_CONCURRENCY"] = str(concurrency)
    return env


def command(csv: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from engine.cli.main import main; main()",
        "--json",
        "send",
        str(csv),
        "--title",
        "t",
        "--body",
        "b",
        "--layer",
        "1",
        "--max-in-doubt",
        str(MAX_IN_DOUBT),
        *extra,
    ]


def start_slow_send(world: World, tmp_path: Path) -> tuple[list[str], subprocess.Popen[str], Path]:
    ids = world.add_users(USERS)
    csv = write_csv(tmp_path / "big.csv", ["user_id"], [[u] for u in ids])
    world.fcm.slow(0.02)  # 4 at a time, 20 ms each: about 200 pushes a second
    proc = subprocess.Popen(
        command(csv), env=environment(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while sum(world.fcm.accepted().values()) < 100:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the send never got going"
        time.sleep(0.01)
    return ids, proc, csv


def resume(world: World, csv: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(command(csv, *extra), env=environment(world), capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout)


def ledger(world: World, status: str) -> set[str]:
    return {
        uid
        for (uid,) in world.query(
            "SELECT user_id::text FROM engine.send_items WHERE status = %s AND user_id = ANY(%s::uuid[])",
            (status, list(world.tokens)),
        )
    }


@pytest.mark.parametrize("resend", [False, True], ids=["at-most-once", "at-least-once"])
def test_kill_9_then_resume(world: World, tmp_path: Path, resend: bool) -> None:
    ids, proc, csv = start_slow_send(world, tmp_path)
    proc.kill()
    proc.wait()
    in_flight = ledger(world, "in_flight")
    # claimed before their HTTP calls, never recorded: at most --max-in-doubt of them
    assert 0 < len(in_flight) <= MAX_IN_DOUBT
    world.fcm.heal()
    code, report = resume(world, csv, *(["--resend-in-flight"] if resend else []))
    # at most once leaves them in doubt: "completed with N in doubt", its own status and exit code
    expected = ("completed", 0) if resend else ("completed_in_doubt", 4)
    assert (report["status"], code, report["resumed"]) == (*expected, True)
    received = {uid: world.fcm.accepted()[world.tokens[uid]] for uid in ids}
    outside = [uid for uid in ids if uid not in in_flight]
    assert all(received[uid] == 1 for uid in outside)  # everyone not in doubt: exactly once
    if resend:
        # at least once: each in-doubt user got it again; only they can have it twice
        assert all(received[uid] in (1, 2) for uid in in_flight)
        assert report["in_flight_unknown"] == 0 and report["sent"] == USERS
    else:
        # at most once: in-doubt users are not sent again; those the dead process had not
        # delivered stay without the push, reported as IN_FLIGHT_UNKNOWN
        assert all(received[uid] in (0, 1) for uid in in_flight)
        assert ledger(world, "failed") == in_flight
        assert report["failed"] == {"IN_FLIGHT_UNKNOWN": len(in_flight)}
        assert report["in_flight_unknown"] == len(in_flight)
        assert "--resend-in-flight" in " ".join(report["warnings"])


def test_sigterm_stops_cleanly_and_resume_sends_each_once(world: World, tmp_path: Path) -> None:
    ids, proc, csv = start_slow_send(world, tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    report = json.loads(out)
    assert proc.returncode == 1
    assert report["status"] == "interrupted" and "resume with the same command" in report["message"]
    assert 0 < report["sent"] < USERS
    assert ledger(world, "in_flight") == set()  # every open batch was recorded
    world.fcm.heal()
    code, final = resume(world, csv)
    assert code == 0 and final["status"] == "completed" and final["sent"] == USERS
    assert sorted(world.fcm.accepted()[world.tokens[uid]] for uid in ids) == [1] * USERS


def test_cli_usage_errors_and_dry_run_json(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "one.csv", ["user_id"], [[uid]])
    runner = CliRunner()
    env = environment(world)
    both = runner.invoke(cli, ["send", str(csv), "--template", "plain_push", "--title", "x"], env=env)
    assert both.exit_code == 2 and "not both" in both.output
    bad = runner.invoke(cli, ["--json", "send", str(csv), "--title", "[[v:x]]", "--body", "b", "--layer", "1"], env=env)
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["type"] == "TemplateError"
    dry = runner.invoke(
        cli,
        ["--json", "send", str(csv), "--template", "plain_push", "--dry-run"],
        env={**env, "ENGINE_FCM_CREDENTIALS": ""},
    )
    assert dry.exit_code == 0, dry.output
    payload = json.loads(dry.stdout)
    assert (payload["status"], payload["remaining"], payload["ok"]) == ("dry_run", 1, True)
    assert world.fcm.attempts() == {}
    live_as_of = runner.invoke(
        cli, ["send", str(csv), "--template", "plain_push", "--as-of", AS_OF.isoformat()], env=env
    )
    assert live_as_of.exit_code == 2 and "--as-of is for dry runs only" in live_as_of.output
    assert world.fcm.attempts() == {}
    text = runner.invoke(cli, ["send", str(csv), "--template", "plain_push"], env=env)
    assert text.exit_code == 0, text.output
    assert "completed" in text.output and "sent" in text.output
