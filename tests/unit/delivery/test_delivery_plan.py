"""Planning: every row ends pending or skipped with one reason, filters applied in order."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from engine.cadence import CadenceDecision
from engine.delivery.plan import plan_send
from engine.delivery.recipients import read_recipients
from engine.push.template import PushTemplate
from tests.fakes.delivery import user_id, write_csv

TEMPLATE = PushTemplate(
    title="Hi [[var:firstName]]", body="b", deep_link="https://tradeblock.us/u/[[var:firstName]]", layer=3, name="t"
)
U = [user_id(i) for i in range(8)]


def recipients(tmp_path: Path):
    rows = [
        [U[0], "Ann"],
        [U[1], ""],
        [U[2], "Cy"],
        [U[3], "Di"],
        [U[4], "Ed"],
        [U[5], "Flo"],
        [U[6], "Gus"],
        [U[0], "Ann again"],
        [U[7], "Hal"],
    ]
    return read_recipients(write_csv(tmp_path / "r.csv", ["user_id", "firstName"], rows))


def tokens(ids: Sequence[str]) -> dict[str, str]:
    # U[3] has no device; U[6] shares U[5]'s device; U[4]'s token is dead
    table = {U[0]: "t0", U[2]: "t2", U[4]: "t4", U[5]: "t5", U[6]: "t5", U[7]: "t7"}
    return {uid: table[uid] for uid in ids if uid in table}


def dead(tokens: Sequence[str]) -> dict[str, str]:
    return {t: "UNREGISTERED" for t in tokens if t == "t4"}


def test_each_row_gets_one_reason(tmp_path: Path) -> None:
    asked: list[list[str]] = []

    def cadence(ids: Sequence[str]) -> CadenceDecision:
        asked.append(list(ids))
        return CadenceDecision(eligible=[i for i in ids if i != U[2]], excluded={"layer_3_cooldown_hours": [U[2]]})

    plan = plan_send(
        TEMPLATE,
        recipients(tmp_path),
        allowed_hosts=("tradeblock.us",),
        test_users=None,
        cadence=cadence,
        tokens=tokens,
        dead_tokens=dead,
    )
    got = {item.user_id: (item.status, item.reason) for item in plan.items}
    assert got == {
        U[0]: ("pending", None),
        U[1]: ("skipped", "missing_value:firstName"),  # empty cell
        U[2]: ("skipped", "cadence:layer_3_cooldown_hours"),
        U[3]: ("skipped", "no_token"),
        U[4]: ("skipped", "dead_token:UNREGISTERED"),
        U[5]: ("pending", None),
        U[6]: ("skipped", "duplicate_token"),  # same device as U[5], who came first
        U[7]: ("pending", None),
    }
    # cadence only sees rows that rendered; the duplicate U[0] row never became a second item
    assert asked == [[U[0], U[2], U[3], U[4], U[5], U[6], U[7]]]
    first = plan.items[0]
    assert (first.seq, first.token, first.title, first.deep_link) == (0, "t0", "Hi Ann", "https://tradeblock.us/u/Ann")
    assert plan.pending == 3
    assert plan.summary.duplicates == 1 and plan.summary.total_rows == 9


def test_test_sends_keep_only_test_users_and_skip_cadence(tmp_path: Path) -> None:
    plan = plan_send(
        TEMPLATE,
        recipients(tmp_path),
        allowed_hosts=("tradeblock.us",),
        test_users={U[7]},
        cadence=None,
        tokens=tokens,
        dead_tokens=dead,
    )
    assert [(i.user_id, i.status) for i in plan.items if i.status == "pending"] == [(U[7], "pending")]
    assert {i.reason for i in plan.items if i.user_id not in (U[1], U[7])} == {"not_test_user"}
    assert plan.summary.cadence.mode == "bypass"
