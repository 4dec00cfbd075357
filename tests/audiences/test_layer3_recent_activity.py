"""Layer 3 recent activity on a hand-built database; every expected row reasoned out below.

as_of = 2026-11-20 12:00 UTC, defaults lookback 48 h / cooling 12 h, so the window is
[2026-11-19 00:00, 2026-11-20 00:00) (inclusive start, exclusive end).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.audiences.helpers import header, read_csv, run_audience
from tests.fixtures.appdata import AppData, hours_before, ts

AS_OF = ts("2026-11-20T12:00:00+00:00")
LONG_AGO = AS_OF - timedelta(days=30)


@pytest.fixture
def layer3_db(app_db: str) -> dict[str, str]:
    d = AppData(app_db)
    ids: dict[str, str] = {"dsn": app_db}
    p1 = d.product('Air Jordan 1 Retro High OG "Bred Toe"')
    p2 = d.product("Nike Dunk Low, Panda")
    ids["v1"] = v1 = d.variant(p1, "10")  # 3 open items by live owners -> inventory_count 3
    ids["v2"] = v2 = d.variant(p1, None)  # no mens_size -> 'Unknown'; 2 open items -> 2
    ids["v3"] = v3 = d.variant(p2, "9.5")  # 2 live wishlist rows -> wishlist_count 2
    ids["v4"] = v4 = d.variant(p2, "11")  # 1 live + 1 deleted wishlist row -> 1
    owners = [d.user(f"Owner{i}", size="10") for i in range(4)]
    for owner in owners[:3]:
        d.inventory(owner, v1, created_at=LONG_AGO)
    d.inventory(owners[3], v1, status="REMOVED", created_at=LONG_AGO)  # not counted
    gone = d.user("Gone", deleted_at=1700000000, size="10")
    d.inventory(gone, v1, created_at=LONG_AGO)  # deleted owner: not counted
    d.inventory(owners[0], v2, created_at=LONG_AGO)
    d.inventory(owners[1], v2, created_at=LONG_AGO)
    w1, w2 = d.user("W1"), d.user("W2")
    d.wishlist(w1, v3, created_at=LONG_AGO)
    d.wishlist(w2, v3, created_at=LONG_AGO)
    d.wishlist(w1, v4, created_at=LONG_AGO)
    d.wishlist(w2, v4, created_at=LONG_AGO, deleted_at=1700000000)

    # alice: offer (first item v1, second v2) at -20h and a newer closet add at -15h.
    # offer_created outranks closet_add whatever the time -> offer creators, v1, inventory 3.
    ids["alice"] = alice = d.user(
        "Alice", username="alice", size="10.5", last_active=ts("2026-11-19T08:30:00.123456+00:00")
    )
    d.offer(alice, [v1, v2], created_at=hours_before(AS_OF, 20))
    d.inventory(alice, v3, created_at=hours_before(AS_OF, 15))
    # bob: wishlist add v1 at -30h, closet add v3 at -13h -> closet_add wins; wishlist_count(v3) = 2 -> kept.
    ids["bob"] = bob = d.user("Bob", username=None, size="9", last_active=ts("2026-11-19T09:00:00+00:00"))
    d.wishlist(bob, v1, created_at=hours_before(AS_OF, 30))
    d.inventory(bob, v3, created_at=hours_before(AS_OF, 13))
    # carol: wishlist adds v1 (-25h) and v2 (-14h): same priority, the most recent (v2) wins;
    # inventory_count(v2) = 2 < 3 -> dropped (no fallback to v1).
    carol = d.user("Carol", size="8", last_active=AS_OF)
    d.wishlist(carol, v1, created_at=hours_before(AS_OF, 25))
    d.wishlist(carol, v2, created_at=hours_before(AS_OF, 14))
    # dave: closet add v4, wishlist_count(v4) = 1 < 2 -> dropped.
    dave = d.user("Dave", size="8")
    d.inventory(dave, v4, created_at=hours_before(AS_OF, 20))
    # erin: offer exactly at the window start (-36h) -> inside (inclusive) -> kept, inventory 3.
    ids["erin"] = erin = d.user("Erin", username="erin", size="12")
    d.offer(erin, [v1], created_at=hours_before(AS_OF, 36))
    # frank: offers at exactly -12h (window end, exclusive) and -36h01m -> both outside -> absent.
    ids["frank"] = frank = d.user("Frank", username="frank", size="7")
    d.offer(frank, [v1], created_at=hours_before(AS_OF, 12))
    d.offer(frank, [v1], created_at=hours_before(AS_OF, 36, 1))
    # gina: blank first name -> skipped by Layer 3 (it rejects falsy names); hank: no size -> skipped;
    # ivan: deleted user -> skipped; kim: only a non-preferred size -> no size -> skipped.
    gina = d.user("", size="10")
    d.offer(gina, [v1], created_at=hours_before(AS_OF, 20))
    hank = d.user("Hank")
    d.offer(hank, [v1], created_at=hours_before(AS_OF, 20))
    ivan = d.user("Ivan", size="10", deleted_at=1700000000)
    d.offer(ivan, [v1], created_at=hours_before(AS_OF, 20))
    kim = d.user("Kim")
    d.size(kim, "10", preferred=False)
    d.offer(kim, [v1], created_at=hours_before(AS_OF, 20))
    # judy: hostile username and unicode name; wishlist add v1 at -16h -> wishlist adders, inventory 3.
    ids["judy"] = judy = d.user("Zoë", username='O\'Brien, "Jr"\nthe 2nd', size="10")
    d.wishlist(judy, v1, created_at=hours_before(AS_OF, 16))
    # removed closet add (current status REMOVED) does not count: lee has nothing else -> absent.
    lee = d.user("Lee", size="10")
    d.inventory(lee, v3, status="REMOVED", created_at=hours_before(AS_OF, 20))
    d.close()
    return ids


def test_layer3_outputs_match_hand_worked_rows(layer3_db: dict[str, str], tmp_path: Path) -> None:
    ids = layer3_db
    result = run_audience(ids["dsn"], "layer3_recent_activity", AS_OF, tmp_path)
    assert result.status == "succeeded", result.manifest.errors
    product1 = 'Air Jordan 1 Retro High OG "Bred Toe"'
    # offer creators, newest action first: alice (-20h = 11-19 16:00), erin (-36h = 11-19 00:00)
    assert read_csv(result, "offer_creators") == [
        {
            "user_id": ids["alice"],
            "username": "alice",
            "firstName": "Alice",
            "usersize": "10.5",
            "relevant_variant_size": "10",
            "product_name": product1,
            "variantID": ids["v1"],
            "lastActive": "2026-11-19 08:30:00.123456+00:00",
            "inventory_count": "3",
        },
        {
            "user_id": ids["erin"],
            "username": "erin",
            "firstName": "Erin",
            "usersize": "12",
            "relevant_variant_size": "10",
            "product_name": product1,
            "variantID": ids["v1"],
            "lastActive": "",
            "inventory_count": "3",
        },
    ]
    # closet adders: bob only (dave's wishlist_count is 1); NULL username -> empty cell;
    # zero microseconds -> no fraction, as Python's str() prints it
    assert read_csv(result, "closet_adders") == [
        {
            "user_id": ids["bob"],
            "username": "",
            "firstName": "Bob",
            "usersize": "9",
            "relevant_variant_size": "9.5",
            "product_name": "Nike Dunk Low, Panda",
            "variantID": ids["v3"],
            "lastActive": "2026-11-19 09:00:00+00:00",
            "wishlist_count": "2",
        },
    ]
    # wishlist adders: judy only (carol's chosen v2 has inventory 2); hostile text survives the round trip
    assert read_csv(result, "wishlist_adders") == [
        {
            "user_id": ids["judy"],
            "username": 'O\'Brien, "Jr"\nthe 2nd',
            "firstName": "Zoë",
            "usersize": "10",
            "relevant_variant_size": "10",
            "product_name": product1,
            "variantID": ids["v1"],
            "lastActive": "",
            "inventory_count": "3",
        },
    ]
    assert header(result, "closet_adders") == [
        "user_id",
        "username",
        "firstName",
        "usersize",
        "relevant_variant_size",
        "product_name",
        "variantID",
        "lastActive",
        "wishlist_count",
    ]
    # TEST file: the founder plus the product fields of the first production row (alice's)
    assert read_csv(result, "offer_creators", test=True) == [
        {
            "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
            "username": "beems",
            "firstName": "Mbiyimoh",
            "usersize": "13",
            "relevant_variant_size": "10",
            "product_name": product1,
            "variantID": ids["v1"],
            "lastActive": "2025-08-05 20:00:00.000000+00:00",
            "inventory_count": "3",
        },
    ]
    # funnel: skipped users are counted per reason (gina blank name; hank, kim no size)
    steps = {s.step: s for s in result.manifest.steps}
    assert steps["require"].removed == {"missing first_name (or blank)": 1, "missing user_size (or blank)": 2}
    assert steps["thresholds"].removed == {
        "offer_created: inventory_count >= 3": 0,
        "closet_add: wishlist_count >= 2": 1,
        "wishlist_add: inventory_count >= 3": 1,
    }


def test_layer3_files_use_crlf_and_original_names(layer3_db: dict[str, str], tmp_path: Path) -> None:
    result = run_audience(layer3_db["dsn"], "layer3_recent_activity", AS_OF, tmp_path)
    files = sorted(p.name for p in result.run_dir.glob("*.csv"))
    assert files == sorted(
        f"{stem}_{tag}20261120_120000.csv"
        for stem in ("recent-offer-creators", "recent-closet-adders", "recent-wishlist-adders")
        for tag in ("", "TEST_")
    )
    raw = (result.run_dir / "recent-closet-adders_20261120_120000.csv").read_bytes()
    assert raw.count(b"\r\n") == 2 and b"\n" not in raw.replace(b"\r\n", b"")


def test_layer3_var_override_reproduces_original_window(layer3_db: dict[str, str], tmp_path: Path) -> None:
    """cooling 0 / lookback 36 is the original's [as_of - 36h, as_of]: frank's -12h offer now counts."""
    ids = layer3_db
    result = run_audience(ids["dsn"], "layer3_recent_activity", AS_OF, tmp_path, cooling_hours=0, lookback_hours=36)
    users = [r["user_id"] for r in read_csv(result, "offer_creators") or []]
    # frank (-12h, newest), alice (-20h), erin (-36h); frank's -36h01m offer is still outside
    assert users == [ids["frank"], ids["alice"], ids["erin"]]
    assert result.manifest.params == {"lookback_hours": 36, "cooling_hours": 0}


def test_layer3_is_deterministic(layer3_db: dict[str, str], tmp_path: Path) -> None:
    first = run_audience(layer3_db["dsn"], "layer3_recent_activity", AS_OF, tmp_path / "a")
    second = run_audience(layer3_db["dsn"], "layer3_recent_activity", AS_OF, tmp_path / "b")
    digests = lambda r: sorted((o.file, o.sha256) for o in r.manifest.outputs)  # noqa: E731
    assert digests(first) == digests(second)


def test_layer3_empty_window_writes_no_csv(app_db: str, tmp_path: Path) -> None:
    result = run_audience(app_db, "layer3_recent_activity", AS_OF, tmp_path)
    assert result.status == "empty"
    assert list(result.run_dir.glob("*.csv")) == []
