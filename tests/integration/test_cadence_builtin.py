"""Built-in cadence against a real state database: rule edges, exemptions, invalid ids, overrides,
and tracking (``record_sent``: idempotent by send_key, inside the caller's transaction).

History rows are inserted by hand; every expectation below is worked out from the rules
(reference 5.3): a rule blocks when  as_of - window < sent_at <= as_of  holds for max_count
pushes (the original's ``sent_at > NOW() - interval``: exactly ``window`` ago no longer counts).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from engine.cadence import SentPush, filter_audience, record_sent
from engine.config import Settings
from engine.errors import ConfigError, StateError

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)


def uid(n: int) -> str:
    return f"6f1c1e8a-3b7e-4c5d-9a2b-{n:012d}"


def ago(hours: float = 0, minutes: float = 0) -> datetime:
    return AS_OF - timedelta(hours=hours, minutes=minutes)


def add_history(dsn: str, *rows: tuple[int, int, datetime]) -> None:
    """Insert (user number, layer, sent_at) rows into engine.user_notifications."""
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at, push_title) VALUES (%s, %s, %s, 't')",
            [(uid(n), layer, sent_at) for n, layer, sent_at in rows],
        )


@pytest.fixture(scope="module")
def state_db(create_database: Callable[..., str]) -> str:
    """One migrated state database for the module (creating and dropping one per test is slow)."""
    return create_database(app_schema=False)


@pytest.fixture
def app_db(state_db: str) -> str:
    """The module's state database with an empty push history: each test starts clean."""
    with psycopg.connect(state_db) as conn:
        conn.execute("TRUNCATE engine.user_notifications")
    return state_db


@pytest.fixture
def settings(app_db: str, tmp_path: Path) -> Settings:
    """Project without cadence.yaml: the packaged defaults (the original's rules) apply."""
    return Settings(project_dir=tmp_path, state_dsn=app_db)


def test_layer3_cooldown_edges(settings: Settings, app_db: str) -> None:
    add_history(
        app_db,
        (1, 3, ago(71, 59)),  # inside 72 h -> blocked
        (2, 3, ago(72, 1)),  # outside -> allowed
        (3, 3, ago(72)),  # exactly 72 h: `sent_at > as_of - 72h` is false -> allowed
        (5, 3, ago(-1)),  # sent after as_of: not history yet -> allowed
        (6, 2, ago(1)),
    )  # a layer-2 push does not start the layer-3 cooldown
    users = [uid(n) for n in (1, 2, 3, 4, 5, 6)]
    decision = filter_audience(settings, users, 3, AS_OF)
    assert decision.eligible == [uid(2), uid(3), uid(4), uid(5), uid(6)]
    assert decision.excluded == {"layer_3_cooldown_hours": [uid(1)], "combined_l2_l3_limit": []}
    [why] = decision.exclusions
    assert (why.user_id, why.rule, why.pushes_in_window, why.last_sent_at) == (
        uid(1),
        "layer_3_cooldown_hours",
        1,
        ago(71, 59),
    )
    assert decision.mode == "builtin" and decision.invalid_ids == [] and decision.warnings == []
    # what a run manifest records: counts per rule, and the rules that were checked
    assert decision.summary() == {
        "mode": "builtin",
        "layer_id": 3,
        "eligible": 5,
        "excluded_total": 1,
        "excluded": {"layer_3_cooldown_hours": 1, "combined_l2_l3_limit": 0},
        "invalid_ids": [],
        "failed_open": False,
        "warnings": [],
        "rules": {
            "layer_3_cooldown_hours": {"counts_layers": [3], "window_hours": 72.0, "max_count": 1, "applies_to": [3]},
            "combined_l2_l3_limit": {
                "counts_layers": [2, 3],
                "window_hours": 168.0,
                "max_count": 3,
                "applies_to": "all",
            },
        },
    }


def test_layer5_cooldown_edges(settings: Settings, app_db: str) -> None:
    add_history(app_db, (1, 5, ago(95)), (2, 5, ago(97)), (3, 3, ago(1)))
    decision = filter_audience(settings, [uid(1), uid(2), uid(3)], 5, AS_OF)
    # user 3: one L3 push is 1 of 3 for the combined limit, and layer 3 has no say over layer 5
    assert decision.eligible == [uid(2), uid(3)]
    assert decision.excluded == {"layer_5_cooldown_hours": [uid(1)], "combined_l2_l3_limit": []}


def test_combined_limit_third_push_allowed_fourth_blocked(settings: Settings, app_db: str) -> None:
    add_history(
        app_db,
        (1, 2, ago(100)),
        (1, 3, ago(150)),  # 2 in 168 h: a 3rd is allowed
        (2, 2, ago(100)),
        (2, 3, ago(120)),
        (2, 2, ago(167)),  # 3 in 168 h: a 4th is blocked
        (3, 2, ago(100)),
        (3, 3, ago(120)),
        (3, 2, ago(169)),  # the oldest is outside: 2
        # only 1 L2/L3 push; the layer-5 one is older than the 96 h layer-5 cooldown
        (4, 2, ago(10)),
        (4, 1, ago(20)),
        (4, 4, ago(30)),
        (4, 5, ago(100)),
    )
    users = [uid(n) for n in (1, 2, 3, 4)]
    for layer in (2, 3, 5):  # the combined rule gates every layer but 1 (4 is bypassed)
        decision = filter_audience(settings, users, layer, AS_OF)
        assert decision.eligible == [uid(1), uid(3), uid(4)], layer
        assert decision.excluded["combined_l2_l3_limit"] == [uid(2)], layer
    [why] = decision.exclusions
    assert (why.pushes_in_window, why.last_sent_at) == (3, ago(100))


def test_first_failing_rule_wins_cooldown_before_combined(settings: Settings, app_db: str) -> None:
    add_history(app_db, (1, 3, ago(10)), (1, 2, ago(20)), (1, 2, ago(30)))  # fails both rules
    decision = filter_audience(settings, [uid(1)], 3, AS_OF)
    assert decision.excluded == {"layer_3_cooldown_hours": [uid(1)], "combined_l2_l3_limit": []}
    # for layer 2 only the combined rule is checked, so the same user is attributed to it
    decision = filter_audience(settings, [uid(1)], 2, AS_OF)
    assert decision.excluded == {"combined_l2_l3_limit": [uid(1)]}


def test_layer1_exempt_and_layer4_bypass_need_no_database(tmp_path: Path) -> None:
    no_db = Settings(project_dir=tmp_path, state_dsn=None)  # a query would raise ConfigError
    exempt = filter_audience(no_db, [uid(1), uid(2)], 1, AS_OF)
    bypass = filter_audience(no_db, [uid(1)], "Test", AS_OF)
    assert (exempt.mode, exempt.eligible, exempt.excluded) == ("exempt", [uid(1), uid(2)], {})
    assert (bypass.mode, bypass.eligible, bypass.layer_id) == ("bypass", [uid(1)], 4)
    with pytest.raises(ConfigError, match="no state database"):
        filter_audience(no_db, [uid(1)], 3, AS_OF)


def test_layer1_exempt_even_with_heavy_history(settings: Settings, app_db: str) -> None:
    add_history(app_db, *[(1, layer, ago(h)) for layer, h in ((1, 1), (2, 2), (3, 3), (2, 4), (3, 5))])
    assert filter_audience(settings, [uid(1)], 1, AS_OF).eligible == [uid(1)]
    assert filter_audience(settings, [uid(1)], 4, AS_OF).eligible == [uid(1)]
    assert filter_audience(settings, [uid(1)], 2, AS_OF).eligible == []


def test_invalid_ids_are_reported_not_dropped(settings: Settings, app_db: str) -> None:
    add_history(app_db, (1, 3, ago(1)))
    ids = [uid(1), "not-a-uuid", "", uid(2), "6f1c1e8a-3b7e-4c5d-9a2b-00000000001", uid(2), uid(1).upper()]
    decision = filter_audience(settings, ids, 3, AS_OF)
    assert decision.invalid_ids == ["not-a-uuid", "", "6f1c1e8a-3b7e-4c5d-9a2b-00000000001"]
    assert decision.warnings == ["3 id(s) are not valid UUIDs and were excluded"]
    # duplicates collapse; the upper-case spelling is the same user and shares the verdict
    assert decision.eligible == [uid(2)]
    assert decision.excluded["layer_3_cooldown_hours"] == [uid(1), uid(1).upper()]


def test_runs_inside_the_callers_transaction(settings: Settings, app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at) VALUES (%s, 3, %s)", (uid(1), ago(1))
        )  # not committed: only this transaction sees it
        assert filter_audience(settings, [uid(1)], 3, AS_OF, state_conn=conn).eligible == []
        conn.rollback()
    assert filter_audience(settings, [uid(1)], 3, AS_OF).eligible == [uid(1)]


def test_automation_override_changes_the_rules(settings: Settings, app_db: str, tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "automations:\n"
        "  - id: short_cooldown\n    audience: a\n    cadence: {layer_3_cooldown_hours: 48}\n"
        "  - id: no_cap\n    audience: a\n    cadence: {combined_l2_l3_limit: false}\n"
    )
    add_history(app_db, (1, 3, ago(60)), (2, 2, ago(1)), (2, 2, ago(2)), (2, 2, ago(3)))
    users = [uid(1), uid(2)]
    assert filter_audience(settings, users, 3, AS_OF).eligible == []
    # 60 h ago is outside a 48 h cooldown; user 2 still has 3 L2 pushes
    assert filter_audience(settings, users, 3, AS_OF, automation="short_cooldown").eligible == [uid(1)]
    decision = filter_audience(settings, users, 2, AS_OF, automation="no_cap")
    assert decision.eligible == users and decision.excluded == {} and decision.rules == {}


def test_project_cadence_yaml_is_used(settings: Settings, app_db: str, tmp_path: Path) -> None:
    (tmp_path / "cadence.yaml").write_text(
        "layers:\n  - {id: 2, name: Layer 2, cadence: apply}\n  - {id: 3, name: Layer 3, cadence: apply}\n"
        "rules:\n  - {name: one_a_day, applies_to: all, counts_layers: [2, 3], window_hours: 24, max_count: 1}\n"
    )
    add_history(app_db, (1, 2, ago(23)), (2, 2, ago(25)))
    decision = filter_audience(settings, [uid(1), uid(2)], 3, AS_OF)
    assert decision.excluded == {"one_a_day": [uid(1)]} and decision.eligible == [uid(2)]
    with pytest.raises(ConfigError, match="unknown notification layer 5"):
        filter_audience(settings, [uid(1)], 5, AS_OF)


def test_unmigrated_state_database_is_explained(empty_db: str, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="engine migrate"):
        filter_audience(Settings(project_dir=tmp_path, state_dsn=empty_db), [uid(1)], 3, AS_OF)


def test_naive_as_of_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="timezone-aware"):
        filter_audience(settings, [uid(1)], 3, AS_OF.replace(tzinfo=None))


# --- tracking -------------------------------------------------------------------------------

U1, U2 = uid(1), uid(2)


def push(user_id: str, key: str, *, layer: int = 3, sent_at: datetime = AS_OF) -> SentPush:
    return SentPush(
        user_id=user_id,
        layer_id=layer,
        sent_at=sent_at,
        push_title="🎯 The target: Dunk Lows 👟",
        push_body="Hey Sam, ...",
        audience_description="layer3_recent_activity/offer_creators",
        deep_link="https://tradeblock.us/product/x?productVariantId=v1",
        send_key=key,
    )


def stored(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT user_id::text, layer_id, sent_at, push_title, deep_link, send_key "
            "FROM engine.user_notifications ORDER BY send_key"
        ).fetchall()


def test_same_rows_twice_give_one_record_each(app_db: str) -> None:
    rows = [push(U1, "run1:p1:" + U1), push(U2, "run1:p1:" + U2)]
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, rows) == 2
    with psycopg.connect(app_db) as conn:  # a resumed send records the same pushes again
        assert record_sent(conn, rows + [rows[0]]) == 0
    assert stored(app_db) == [
        (
            U1,
            3,
            AS_OF,
            "🎯 The target: Dunk Lows 👟",
            "https://tradeblock.us/product/x?productVariantId=v1",
            "run1:p1:" + U1,
        ),
        (
            U2,
            3,
            AS_OF,
            "🎯 The target: Dunk Lows 👟",
            "https://tradeblock.us/product/x?productVariantId=v1",
            "run1:p1:" + U2,
        ),
    ]


def test_duplicate_keys_in_one_batch_insert_once(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [push(U1, "k"), push(U1, "k")]) == 1
    assert len(stored(app_db)) == 1


def test_rollback_of_the_callers_transaction_records_nothing(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [push(U1, "k1")]) == 1
        conn.rollback()  # e.g. the ledger update failed
    assert stored(app_db) == []


def test_mappings_are_accepted_and_incomplete_rows_refused(app_db: str) -> None:
    row = {"user_id": U1, "layer_id": 5, "sent_at": AS_OF, "send_key": "k2"}  # texts and deep link optional
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [row]) == 1
        with pytest.raises(StateError, match="send_key"):
            record_sent(conn, [{"user_id": U2, "layer_id": 3, "sent_at": AS_OF}])
        with pytest.raises(StateError, match="naive"):
            record_sent(conn, [push(U2, "k3", sent_at=AS_OF.replace(tzinfo=None))])
        assert record_sent(conn, []) == 0
    assert [(r[0], r[1], r[3], r[4]) for r in stored(app_db)] == [(U1, 5, None, None)]


def test_a_layer_missing_from_the_state_table_is_explained(app_db: str) -> None:
    with psycopg.connect(app_db) as conn, pytest.raises(StateError, match="notification_layers"):
        record_sent(conn, [push(U1, "k", layer=9)])


def test_recorded_pushes_drive_the_next_check(settings: Settings, app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        record_sent(conn, [push(uid(1), "k1", sent_at=ago(1))])
    decision = filter_audience(settings, [uid(1), uid(2)], 3, AS_OF)
    assert decision.eligible == [uid(2)] and decision.excluded["layer_3_cooldown_hours"] == [uid(1)]
