"""Sending end to end: real PostgreSQL, the engine's FCM client, real HTTP to the fake FCM server."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from engine.db import SourcePool
from engine.delivery.tokens import lookup_tokens
from engine.errors import ConfigError, DeliveryError
from engine.push.template import TemplateError
from tests.fakes.delivery import (  # noqa: F401
    REPO,
    World,
    delivery_db,
    fake_fcm,
    world,
    write_csv,
    write_run,
)

OFFER_HEADER = ["user_id", "firstName", "product_name", "variantID"]
RUN_ID = "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11"


def offer_rows(ids: list[str]) -> list[list[str]]:
    return [[uid, f"Name{i}", f"Jordan {i}", f"v-{i}"] for i, uid in enumerate(ids)]


def test_run_send_payload_tracking_ledger_and_rerun(world: World, tmp_path: Path) -> None:
    with_token = world.add_users(2)
    [tokenless] = world.add_users(1, token=False)
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=offer_rows([*with_token, tokenless]))
    report = world.send(run, template="offer_push")
    send_id = f"{RUN_ID}:offer_push:live"
    assert (report.send_id, report.status, report.mode, report.layer) == (send_id, "completed", "live", 3)
    assert (report.total_rows, report.targeted, report.sent, report.no_token, report.remaining) == (3, 2, 2, 1, 0)
    assert report.exit_code == 0

    # the payload the original sent, plus data.run_id; one message per user
    received = {r.token: r.message for r in world.fcm.received()}
    link = "https://tradeblock.us/product/collectors-have?productVariantId=v-0"
    assert received[world.tokens[with_token[0]]] == {
        "token": world.tokens[with_token[0]],
        "notification": {"title": "🎯 The target: Jordan 0s 👟", "body": "Hey Name0, collectors have your size"},
        "data": {"run_id": send_id, "click_action": link, "url": link},
    }
    assert set(received) == {world.tokens[u] for u in with_token}

    # tracking: rendered text, the send time, one row per pushed user keyed by the ledger key
    rows = world.query(
        "SELECT user_id::text, layer_id, sent_at, push_title, push_body, deep_link, audience_description, send_key"
        " FROM engine.user_notifications WHERE send_key LIKE %s ORDER BY push_body",
        (f"{send_id}:%",),
    )
    assert rows[0][:2] + rows[0][3:] == (
        with_token[0],
        3,
        "🎯 The target: Jordan 0s 👟",
        "Hey Name0, collectors have your size",
        link,
        f"Run {RUN_ID}: layer3_recent_activity.offer_creators",
        f"{send_id}:{with_token[0]}",
    )
    # recorded at the state database's clock: after the send was planned (its as_of), moments ago
    [(db_now,)] = world.query("SELECT now()")
    assert report.as_of <= rows[0][2] <= db_now and db_now - report.as_of < timedelta(minutes=1)
    assert [r[0] for r in rows] == with_token

    ledger = dict(
        world.query(
            "SELECT user_id::text, status || coalesce(':' || reason, '') FROM engine.send_items WHERE send_id = %s",
            (send_id,),
        )
    )
    assert ledger == {with_token[0]: "sent", with_token[1]: "sent", tokenless: "skipped:no_token"}
    message_ids = world.query(
        "SELECT message_id FROM engine.send_items WHERE send_id = %s AND status = 'sent'", (send_id,)
    )
    assert all(m[0].startswith("projects/fake-project/messages/") for m in message_ids)

    again = world.send(run, template="offer_push")
    assert (again.status, again.resumed, again.sent_now, again.sent) == ("completed", True, 0, 2)
    assert sum(world.fcm.attempts().values()) == 2  # nothing went out twice
    assert world.query("SELECT count(*) FROM engine.user_notifications WHERE send_key LIKE %s", (f"{send_id}:%",)) == [
        (2,)
    ]


def test_push_without_link_has_only_run_id_in_data(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "one.csv", ["user_id"], [[uid]])
    report = world.send(csv, template="plain_push")
    [message] = [r.message for r in world.fcm.received()]
    assert message["data"] == {"run_id": report.send_id}
    assert message["notification"] == {"title": "Big drop today", "body": "Open the app"}


def test_answers_are_group_committed_within_the_in_doubt_window(world: World, tmp_path: Path) -> None:
    ids = world.add_users(1234)
    csv = write_csv(tmp_path / "big.csv", ["user_id"], [[u] for u in ids])
    progress: list[int] = []
    report = world.send(csv, title="t", body="b", layer=1, on_progress=lambda done, total: progress.append(done))
    # concurrency 8 (the world's setting): at most 2 x 8 = 16 pushes claimed and unrecorded at once,
    # so at least 1,234 / 16 = 78 commits; progress is reported per commit and ends at everyone
    assert 0 < report.max_in_doubt_now <= 16
    assert report.commits_now >= 1234 // 16
    assert progress[-1] == 1234 and progress == sorted(progress)
    assert report.sent == 1234 and sorted(world.fcm.accepted().values()) == [1] * 1234


def test_token_lookup_latest_non_blank_device_wins(world: World) -> None:
    [multi, none_usable] = world.add_users(2, token=False)
    with psycopg.connect(world.dsn) as conn:
        for uid, fingerprint, token, updated in [
            (multi, "a", "old", "2026-01-01"),
            (multi, "b", "newest-with-token", "2026-06-01"),
            (multi, "c", None, "2026-09-01"),
            (multi, "d", "  ", "2026-10-01"),
            (none_usable, "e", None, "2026-10-01"),
        ]:
            conn.execute(
                "INSERT INTO devices (user_id, fingerprint, token, updated_at) VALUES (%s, %s, %s, %s)",
                (uid, fingerprint, token, updated),
            )
    with SourcePool(world.dsn, size=1) as pool:
        found = lookup_tokens(pool, REPO / "sql", [multi, none_usable])
    assert found == {multi: "newest-with-token"}


def test_skips_duplicates_and_counts(world: World, tmp_path: Path) -> None:
    a, b, c = world.add_users(3)
    csv = write_csv(
        tmp_path / "dups.csv",
        ["user_id", "firstName"],
        [[a, "Ann"], [b, ""], [a, "Ann again"], [c, "Cy"], ["not-a-uuid", "x"]],
    )
    report = world.send(csv, title="Hi [[var:firstName]]", body="b", layer=1)
    assert (report.total_rows, report.duplicates, report.invalid_ids, report.sent) == (5, 1, 1, 2)
    assert report.skipped == {"missing_value:firstName": 1}
    titles = sorted(r.message["notification"]["title"] for r in world.fcm.received())
    assert titles == ["Hi Ann", "Hi Cy"]  # first row wins; no "Hi " with a hole


def test_dry_run_sends_and_writes_nothing_and_needs_no_credentials(world: World, tmp_path: Path) -> None:
    ids = world.add_users(3)
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=offer_rows(ids), run_id=str(ids[0]))
    report = world.with_settings(fcm_credentials=None).send(run, template="offer_push", dry_run=True)
    assert (report.status, report.remaining, report.sent, report.exit_code) == ("dry_run", 3, 0, 0)
    assert world.fcm.attempts() == {}
    assert world.query("SELECT count(*) FROM engine.sends WHERE run_id = %s", (ids[0],)) == [(0,)]


def test_live_send_applies_cadence(world: World, tmp_path: Path) -> None:
    recent, fresh = world.add_users(2)
    with psycopg.connect(world.dsn) as conn:  # a layer-3 push 24 h ago: inside the 72 h cooldown
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at)"
            " VALUES (%s, 3, now() - interval '24 hours')",
            (recent,),
        )
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=offer_rows([recent, fresh]), run_id=fresh)
    report = world.send(run, template="offer_push")
    assert report.cadence_excluded == {"layer_3_cooldown_hours": 1}
    assert report.cadence["mode"] == "builtin"
    assert set(world.fcm.accepted()) == {world.tokens[fresh]}


def test_test_send_reaches_only_test_users_as_layer_4(world: World, tmp_path: Path) -> None:
    tester, stranger, live_user = world.add_users(3)
    with psycopg.connect(world.dsn) as conn:  # cadence would block the tester for a live layer-3 push
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at)"
            " VALUES (%s, 3, now() - interval '1 hour')",
            (tester,),
        )
    run = write_run(
        tmp_path / "run",
        header=OFFER_HEADER,
        rows=offer_rows([live_user]),
        test_rows=offer_rows([tester, stranger]),
        run_id=tester,
    )
    testing = world.with_settings(test_users=({"user_id": tester},))
    report = testing.send(run, template="offer_push", test=True)
    assert (report.mode, report.layer, report.sent, report.skipped) == ("test", 4, 1, {"not_test_user": 1})
    assert report.send_id == f"{tester}:offer_push:test"
    assert set(world.fcm.accepted()) == {world.tokens[tester]}
    assert world.query(
        "SELECT layer_id FROM engine.user_notifications WHERE send_key = %s", (f"{report.send_id}:{tester}",)
    ) == [(4,)]


def test_template_and_column_errors_stop_before_anything(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "cols.csv", ["user_id", "firstname"], [[uid, "a"]])
    with pytest.raises(TemplateError, match="firstName"):
        world.send(csv, title="Hi [[var:firstName]]", body="b", layer=1)
    with pytest.raises(TemplateError, match="malformed"):
        world.send(csv, title="Hi [[vra:firstname]]", body="b", layer=1)
    with pytest.raises(ConfigError, match="unknown notification layer 9"):
        world.send(csv, title="Hi", body="b", layer=9)
    assert world.fcm.attempts() == {}
    assert world.query("SELECT count(*) FROM engine.sends WHERE source_file = %s", (str(csv),)) == [(0,)]


def test_limit_then_continue(world: World, tmp_path: Path) -> None:
    ids = world.add_users(10)
    csv = write_csv(tmp_path / "ten.csv", ["user_id"], [[u] for u in ids])
    first = world.send(csv, title="t", body="b", layer=1, limit=4)
    assert (first.status, first.sent, first.remaining, first.exit_code) == ("limited", 4, 6, 0)
    rest = world.send(csv, title="t", body="b", layer=1)
    assert (rest.status, rest.sent_now, rest.sent) == ("completed", 6, 10)
    assert sorted(world.fcm.accepted().values()) == [1] * 10
    # CSV order: the first four rows went first
    assert set(list(world.fcm.accepted())[:4]) == {world.tokens[u] for u in ids[:4]}


def test_same_send_id_with_other_input_is_refused(world: World, tmp_path: Path) -> None:
    a, b = world.add_users(2)
    first = world.send(write_csv(tmp_path / "a.csv", ["user_id"], [[a]]), title="t", body="b", layer=1, send_id="fixed")
    assert first.sent == 1
    with pytest.raises(DeliveryError, match="different CSV"):
        world.send(write_csv(tmp_path / "b.csv", ["user_id"], [[b]]), title="t", body="b", layer=1, send_id="fixed")
    with pytest.raises(DeliveryError, match="different push template"):
        world.send(tmp_path / "a.csv", title="other", body="b", layer=1, send_id="fixed")


def test_a_second_copy_cannot_run_at_once(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "lock.csv", ["user_id"], [[uid]])
    with psycopg.connect(world.dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (0x73656E64, "locked-send"))
        with pytest.raises(DeliveryError, match="already running in another process"):
            world.send(csv, title="t", body="b", layer=1, send_id="locked-send")
    assert world.fcm.attempts() == {}


def test_empty_output_is_reported_not_sent(world: World, tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=[], run_id="5b0f1f7e-0000-4000-8000-000000000001")
    report = world.send(run, template="offer_push")
    assert (report.status, report.exit_code, report.sent) == ("empty", 0, 0)


def _fake_cadence_service() -> type:
    """The cadence helper's stand-in for the original push-cadence-service (a test helper module)."""
    path = REPO / "tests" / "unit" / "cadence" / "fake_cadence_service.py"
    spec = importlib.util.spec_from_file_location("fake_cadence_service_for_delivery", path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.FakeCadenceService


def test_remote_cadence_filters_then_tracks_what_fcm_accepted(world: World, tmp_path: Path) -> None:
    # the original service only accepts RFC 4122 version 1-5 ids, so these users get uuid4 ids
    blocked, allowed = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(world.dsn) as conn:
        for uid in (blocked, allowed):
            conn.execute("INSERT INTO users (id) VALUES (%s)", (uid,))
            conn.execute("INSERT INTO devices (user_id, fingerprint, token) VALUES (%s, 'fp', %s)", (uid, f"t-{uid}"))
    run = write_run(tmp_path / "run", header=OFFER_HEADER, rows=offer_rows([blocked, allowed]), run_id=allowed)
    with _fake_cadence_service()(blocked={blocked}) as service:
        remote = world.with_settings(cadence_mode="remote", cadence_url=service.url)
        report = remote.send(run, template="offer_push")
    assert (report.cadence_excluded, report.sent, report.cadence["mode"]) == ({"remote": 1}, 1, "remote")
    assert set(world.fcm.accepted()) == {f"t-{allowed}"}
    # one track call per accepted push, with the rendered text (the original stored the template)
    assert service.tracked == [
        {
            "userId": allowed,
            "layerId": 3,
            "pushTitle": "🎯 The target: Jordan 1s 👟",
            "pushBody": "Hey Name1, collectors have your size",
            "audienceDescription": f"Run {allowed}: layer3_recent_activity.offer_creators",
        }
    ]
