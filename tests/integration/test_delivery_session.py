"""Sends sharing one send session (``engine.api.send_session``): one source pool, one FCM client and its
OAuth token for all of them, while each send keeps its own ledger, send id and exactly-once resume.

The fake FCM server is told to refuse every new OAuth token once the session is open: the
session's sends still go out (they use the token fetched when it opened), a send alone does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import api
from engine.delivery.request import SendRequest
from engine.delivery.shard import Shard
from engine.errors import DeliveryError
from tests.fakes.delivery import FAST_RETRY, World, delivery_db, fake_fcm, world, write_csv  # noqa: F401


def test_sends_in_one_session_share_its_token_and_keep_their_own_ledger(world: World, tmp_path: Path) -> None:
    ids = world.add_users(3)
    csv = write_csv(tmp_path / "three.csv", ["user_id"], [[u] for u in ids])
    first = SendRequest(source=csv, title="one", body="b", layer=1, send_id="session-one")
    second = SendRequest(source=csv, title="two", body="b", layer=1, send_id="session-two")
    with api.send_session(world.settings, live=True) as session:
        world.fcm.reject_oauth()  # from now on no new token: only the session's own can send
        reports = [api.send(world.settings, r, session=session, retry=FAST_RETRY) for r in (first, second)]
        again = api.send(world.settings, first, session=session, retry=FAST_RETRY)
    assert [(r.send_id, r.status, r.sent_now) for r in reports] == [
        ("session-one", "completed", 3),
        ("session-two", "completed", 3),
    ]
    assert (again.status, again.resumed, again.sent_now) == ("completed", True, 0)  # exactly once, per send
    assert sorted(world.fcm.accepted().values()) == [2, 2, 2]
    titles = sorted(r.message["notification"]["title"] for r in world.fcm.received())
    assert titles == ["one"] * 3 + ["two"] * 3
    assert world.query(
        "SELECT send_id, count(*) FROM engine.send_items WHERE send_id LIKE 'session-%%' AND status = 'sent'"
        " GROUP BY send_id ORDER BY send_id"
    ) == [("session-one", 3), ("session-two", 3)]
    third = SendRequest(source=csv, title="three", body="b", layer=1, send_id="session-three")
    with pytest.raises(DeliveryError, match="rejected by the OAuth server"):  # alone, it needs a new token
        api.send(world.settings, third, retry=FAST_RETRY)


def test_the_shards_of_a_planned_send_run_in_one_session(world: World, tmp_path: Path) -> None:
    ids = world.add_users(10)
    csv = write_csv(tmp_path / "ten.csv", ["user_id"], [[u] for u in ids])
    request = SendRequest(source=csv, title="t", body="b", layer=1, send_id="session-sharded")
    with api.send_session(world.settings, live=True) as session:
        planned = api.send(world.settings, SendRequest(**{**vars(request), "limit": 0}), session=session)
        shards = [
            api.send(world.settings, SendRequest(**{**vars(request), "shard": Shard(k, 2)}), session=session)
            for k in (1, 2)
        ]
    assert (planned.remaining, planned.sent_now) == (10, 0)
    assert [(r.shard, r.targeted, r.sent_now) for r in shards] == [("1/2", 5, 5), ("2/2", 5, 5)]
    assert sorted(world.fcm.accepted().values()) == [1] * 10
    assert world.query("SELECT status FROM engine.sends WHERE send_id = 'session-sharded'") == [("completed",)]
