"""Holdouts and variants in real sends: real PostgreSQL, the engine's FCM client, real HTTP to the fake FCM."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.fakes.delivery import World, delivery_db, fake_fcm, world, write_run  # noqa: F401
from tests.integration.test_delivery_process import environment

HEADER = ["user_id", "firstName", "product_name", "variantID"]
SCHEDULES = """\
version: 1
templates:
  offer_push:
    audience: layer3_recent_activity
    output: offer_creators
    layer: 3
    title: "Base [[var:product_name]]"
    body: "Hey [[var:firstName]]"
    variants:
      - {name: plain, weight: 1}
      - {name: urgent, weight: 3, title: "Now: [[var:product_name]]"}
  later_push:
    audience: layer3_recent_activity
    output: offer_creators
    layer: 3
    title: "Again"
    body: "Hey [[var:firstName]]"
automations:
  - id: daily
    audience: layer3_recent_activity
    schedule: {cron: "0 12 * * *", timezone: UTC}
    pushes: [offer_push]
    holdout: {percent: 10}
"""


def _rows(ids: list[str]) -> list[list[str]]:
    return [[uid, f"N{i}", f"Shoe {i}", f"v{i}"] for i, uid in enumerate(ids)]


def _within_binomial(count: int, n: int, p: float) -> bool:
    """Within four standard deviations of Binomial(n, p)'s mean (a fair draw leaves it once in ~16,000)."""
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def _items(world: World, send_id: str) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    rows = world.query(
        "SELECT user_id::text, status, reason, variant, title FROM engine.send_items WHERE send_id = %s", (send_id,)
    )
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def test_holdout_and_variants_over_two_runs_and_two_processes(world: World, tmp_path: Path) -> None:
    (world.project / "schedules.yaml").write_text(SCHEDULES, encoding="utf-8")
    ids = world.add_users(10_000)
    run_a = write_run(tmp_path / "a", header=HEADER, rows=_rows(ids), run_id="11111111-1111-4111-8111-111111111111")
    run_b = write_run(tmp_path / "b", header=HEADER, rows=_rows(ids), run_id="22222222-2222-4222-8222-222222222222")

    report = world.send(run_a, template="offer_push", automation="daily")
    # the second run is sent by another process, as another replica would
    done = subprocess.run(
        [sys.executable, "-c", "from engine.cli.main import main; main()", "--json", "send", str(run_b)]
        + ["--template", "offer_push", "--automation", "daily"],
        env=environment(world),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    other = json.loads(done.stdout)

    a = _items(world, report.send_id)
    b = _items(world, other["send_id"])
    held_a = {u for u, (status, reason, _, _) in a.items() if reason == "held_out:automation"}
    held_b = {u for u, (status, reason, _, _) in b.items() if reason == "held_out:automation"}
    assert held_a == held_b  # the same users, run after run, process after process
    assert _within_binomial(len(held_a), 10_000, 0.10)  # 1,000 +- 120
    assert all(a[u][0] == "skipped" for u in held_a)
    # every outcome count says so: 10,000 = sent + held out, nobody failed or skipped otherwise
    assert (report.sent, report.held_out, report.outcomes.held_out) == (10_000 - len(held_a), len(held_a), len(held_a))
    # run b, the same day: layer 3's cooldown blocks everyone run a pushed; the held-out users pass cadence
    # (nothing was sent to them) and are held out again
    assert (other["held_out"], other["sent"]) == (len(held_a), 0)
    assert sum(other["cadence_excluded"].values()) == 10_000 - len(held_a)

    # held-out users received nothing from either send
    pushed = {token for token, n in world.fcm.accepted().items() if n}
    assert not pushed & {world.tokens[u] for u in held_a}
    assert len(pushed) == 10_000 - len(held_a)  # each treated device once (the second send hit the cadence rule)

    # variants: weights 1:3 among everyone rendered; the ledger keeps each user's, the push carries its text
    variants = [v for (_, _, v, _) in a.values()]
    assert _within_binomial(variants.count("urgent"), 10_000, 0.75)
    assert variants.count("plain") + variants.count("urgent") == 10_000
    assert all(t.startswith("Now: ") == (v == "urgent") for (_, _, v, t) in a.values())
    assert {u: a[u][2] for u in ids} == {u: b[u][2] for u in ids}  # the same variant in both runs


def test_held_out_users_are_not_blocked_by_cadence_later(world: World, tmp_path: Path) -> None:
    (world.project / "schedules.yaml").write_text(SCHEDULES, encoding="utf-8")
    ids = world.add_users(400)
    first = world.send(
        write_run(tmp_path / "a", header=HEADER, rows=_rows(ids)), template="offer_push", automation="daily"
    )
    held = {u for u, (_, reason, _, _) in _items(world, first.send_id).items() if reason == "held_out:automation"}
    assert held and first.sent == 400 - len(held)
    # a second layer-3 push the same day: the layer's cooldown blocks everyone who was pushed, and only them
    later = world.send(
        write_run(tmp_path / "b", header=HEADER, rows=_rows(ids), run_id="33333333-3333-4333-8333-333333333333"),
        template="later_push",
    )
    items = _items(world, later.send_id)
    assert {u for u, (status, _, _, _) in items.items() if status == "sent"} == held
    assert all(items[u][1] == "cadence:layer_3_cooldown_hours" for u in set(ids) - held)
    assert later.held_out == 0  # not an automation send: nobody held out
