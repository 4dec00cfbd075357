"""Sharded sends (issue 17): a planned send's ledger split into ranges that separate processes send at once.

Counts are taken where they matter: at the fake FCM server (accepted requests per device token) and in the
ledger, never from the senders' own reports alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.delivery.shard import Shard
from engine.errors import DeliveryError, SendBusy
from tests.fakes.delivery import (  # noqa: F401
    World,
    delivery_db,
    fake_fcm,
    world,
    write_csv,
)
from tests.integration.test_delivery_integrity import finish, send_status, spawn, statuses

PUSH = ["--title", "t", "--body", "b", "--layer", "1"]


def planned(world: World, tmp_path: Path, users: int, send_id: str) -> tuple[list[str], Path, list[str]]:
    """``users`` users, their CSV, and the send planned (ledger frozen, nothing sent: --limit 0)."""
    ids = world.add_users(users)
    csv = write_csv(tmp_path / f"{send_id}.csv", ["user_id"], [[u] for u in ids])
    args = [str(csv), *PUSH, "--send-id", send_id]
    code, report = finish(spawn(world, *args, "--limit", "0"))
    assert (code, report["status"], report["sent"], report["remaining"]) == (0, "limited", 0, users), report
    return ids, csv, args


def wait_until_sending(world: World, count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(world.fcm.accepted().values()) < count:
        assert time.monotonic() < deadline, "the shards never got going"
        time.sleep(0.005)


def test_two_shard_processes_send_every_push_exactly_once(world: World, tmp_path: Path) -> None:
    ids, _, args = planned(world, tmp_path, 600, "sharded-two")
    world.fcm.slow(0.005)  # 4 in flight per process at 5 ms each: both processes are surely sending at once
    first, second = spawn(world, *args, "--shard", "1/2"), spawn(world, *args, "--shard", "2/2")
    wait_until_sending(world, 50)
    assert send_status(world, "sharded-two")[:2] == ("sending", "sending")  # a shard holds the lock: 'sending'
    reports = [finish(first), finish(second)]
    assert [code for code, _ in reports] == [0, 0], reports
    # seq 0..599 split in two: [0, 300) and [300, 600), 300 pushes each; each report counts its own rows
    assert [(r["shard"], r["targeted"], r["sent_now"]) for _, r in reports] == [("1/2", 300, 300), ("2/2", 300, 300)]
    assert sorted(world.fcm.accepted()[world.tokens[u]] for u in ids) == [1] * 600
    assert set(statuses(world, "sharded-two").values()) == {"sent"}
    # the last shard out wrote the whole send's status; the split is pinned on the send
    assert send_status(world, "sharded-two")[:2] == ("completed", "completed")
    assert world.query("SELECT shards FROM engine.sends WHERE send_id = 'sharded-two'") == [(2,)]


def test_a_shard_refuses_an_unplanned_send_a_second_split_and_a_copy_of_itself(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    lone = write_csv(tmp_path / "lone.csv", ["user_id"], [[uid]])
    with pytest.raises(DeliveryError, match="not planned yet"):
        world.send(lone, title="t", body="b", layer=1, send_id="unplanned", shard=Shard(1, 2))
    assert world.fcm.attempts() == {}
    ids, csv, args = planned(world, tmp_path, 200, "sharded-refusals")
    world.fcm.slow(0.02)
    running = spawn(world, *args, "--shard", "1/2")
    wait_until_sending(world, 10)
    with pytest.raises(SendBusy, match="shard 1/2 of send 'sharded-refusals' is already running"):
        world.send(csv, title="t", body="b", layer=1, send_id="sharded-refusals", shard=Shard(1, 2))
    with pytest.raises(SendBusy, match="already running in another process"):  # the whole send waits for shards
        world.send(csv, title="t", body="b", layer=1, send_id="sharded-refusals")
    with pytest.raises(DeliveryError, match="split into 2 shards, not 3"):  # [0, 66) would overlap [0, 100)
        world.send(csv, title="t", body="b", layer=1, send_id="sharded-refusals", shard=Shard(1, 3))
    code, report = finish(running)
    # a shard's status and exit code are its own rows': all sent, exit 0, though half the send is left
    assert (code, report["status"], report["sent_now"]) == (0, "completed", 100)
    assert send_status(world, "sharded-refusals")[:2] == ("partial", "partial")  # the whole send's: 100 pending
    world.fcm.heal()
    rest = world.send(csv, title="t", body="b", layer=1, send_id="sharded-refusals")  # whole: the other half
    assert (rest.status, rest.sent_now, rest.sent, rest.shard) == ("completed", 100, 200, None)
    assert sorted(world.fcm.accepted()[world.tokens[u]] for u in ids) == [1] * 200


def test_a_whole_send_in_progress_keeps_shards_out(world: World, tmp_path: Path) -> None:
    _, csv, args = planned(world, tmp_path, 200, "whole-first")
    world.fcm.slow(0.02)
    whole = spawn(world, *args)
    wait_until_sending(world, 10)
    with pytest.raises(SendBusy, match="being sent whole by another process"):
        world.send(csv, title="t", body="b", layer=1, send_id="whole-first", shard=Shard(2, 2))
    code, report = finish(whole)
    assert (code, report["sent"]) == (0, 200)


def test_kill_9_of_one_shard_loses_nothing_and_sends_nothing_twice(world: World, tmp_path: Path) -> None:
    ids, csv, args = planned(world, tmp_path, 1000, "sharded-kill")
    world.fcm.slow(0.01)
    doomed, survivor = spawn(world, *args, "--shard", "1/2"), spawn(world, *args, "--shard", "2/2")
    wait_until_sending(world, 100)
    doomed.kill()
    doomed.wait()
    code, report = finish(survivor)
    assert (code, report["shard"], report["remaining"]) == (0, "2/2", 0), report  # its own rows: all sent
    time.sleep(0.3)  # let the server finish reading requests that left before the kill
    rows = statuses(world, "sharded-kill")
    assert {rows[u] for u in ids[500:]} == {"sent"}  # the survivor's range, [500, 1000)
    assert "pending" in {rows[u] for u in ids[:500]}  # the killed shard's range is unfinished
    # the survivor was the last one out: the whole send's status says what is left
    assert send_status(world, "sharded-kill")[:2] == ("partial", "partial")
    world.fcm.heal()
    again = world.send(csv, title="t", body="b", layer=1, send_id="sharded-kill", shard=Shard(1, 2))
    doubted = again.in_flight_unknown  # in flight at the kill: not sent again (at most once)
    assert again.remaining == 0 and again.sent + doubted == 500
    accepted = world.fcm.accepted()
    assert max(accepted[world.tokens[u]] for u in ids) == 1, "a push went out twice"
    assert sum(1 for u in ids if accepted[world.tokens[u]] == 0) <= doubted  # only those in doubt may be missing
    final = send_status(world, "sharded-kill")[:2]
    assert final == (("completed_in_doubt",) * 2 if doubted else ("completed",) * 2)
