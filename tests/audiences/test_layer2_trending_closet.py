"""Layer 2 trending closet on a hand-built database; every expected row reasoned out below.

as_of = 2026-11-20 12:00 UTC with the defaults (lookback_days 7, activity_days 90,
trending_limit 10), so (all bounds inclusive):
  trending window     [2026-11-13 12:00, as_of]   distinct offers of any status/deleted state
  open-offers window  [2026-10-21 12:00, as_of]   OPEN/PENDING, live offers only
  active users        last_active >= 2026-08-22 12:00

To keep the two counts apart, the offers that make a product trend are COMPLETED (they
count for trending, never for variant_open_offers) and sit on a separate "trend" variant
(size 8) of each product; the OPEN demand offers on the owned variants are 10 days old
(inside the 30-day window, outside the 7-day one).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import psycopg
import pytest

from tests.audiences.helpers import header, read_csv, run_audience
from tests.fixtures.appdata import AppData, ts, uid

AS_OF = ts("2026-11-20T12:00:00+00:00")
DAY, SEC = timedelta(days=1), timedelta(seconds=1)
TRENDING_START = AS_OF - 7 * DAY  # 2026-11-13 12:00
OPEN_START = AS_OF - 30 * DAY  # 2026-10-21 12:00
ACTIVE_START = AS_OF - 90 * DAY  # 2026-08-22 12:00
RECENT = AS_OF - 2 * DAY  # inside the trending window
OLDER = AS_OF - 10 * DAY  # outside trending, inside open offers
ACTIVE = ts("2026-11-19T09:00:00+00:00")
ACTIVE_TEXT = "2026-11-19 09:00:00+00:00"
DELETED = 1700000000
STAMP = "20261120_120000"
FOUNDER = {
    "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
    "username": "beems",
    "firstName": "Mbiyimoh",
    "usersize": "13",
    "lastActive": "2025-08-05 20:00:00.000000+00:00",
}
HEADER = [
    "user_id",
    "username",
    "firstName",
    "usersize",
    "product_name",
    "trending_rank",
    "variantID",
    "relevant_variant_size",
    "wishlist_count",
    "variant_open_offers",
    "lastActive",
]
HOSTILE_USERNAME = 'x,"y"\r\nz'


def row(
    user: str,
    username: str,
    first: str,
    size: str,
    product: str,
    rank: str,
    variant: str,
    vsize: str,
    wishlist: int,
    open_offers: int,
    last_active: str = ACTIVE_TEXT,
) -> dict[str, str]:
    return {
        "user_id": user,
        "username": username,
        "firstName": first,
        "usersize": size,
        "product_name": product,
        "trending_rank": rank,
        "variantID": variant,
        "relevant_variant_size": vsize,
        "wishlist_count": str(wishlist),
        "variant_open_offers": str(open_offers),
        "lastActive": last_active,
    }


@pytest.fixture(scope="module")
def layer2_db(create_database: Callable[..., str]) -> dict[str, str]:
    dsn = create_database()
    d = AppData(dsn)
    ids: dict[str, str] = {"dsn": dsn}
    trader = d.user("Trader")  # creates offers; no size, no activity: never listed
    ghost = d.user("Ghost", deleted_at=DELETED)  # a deleted user: its offers still make a product trend

    def trend(variant: str, n: int, when: Any = RECENT, **kw: Any) -> None:
        for _ in range(n):
            d.offer(trader, [variant], created_at=when, status="COMPLETED", **kw)

    def demand(variant: str, n: int, when: Any = OLDER, status: str = "OPEN", **kw: Any) -> None:
        for _ in range(n):
            d.offer(trader, [variant], created_at=when, status=status, **kw)

    # --- trending: distinct offers in the window, ties by count desc, name, id ------------------
    zebra = d.product("Zebra Runner")  # 6 -> 1st (alphabetically last: the original's SQL would rarely pick it)
    yeezy = d.product("Yeezy Foam")  # 5 -> 2nd
    airmax = d.product("Air Max Tie")  # 4 -> 3rd (ties Blazer Tie on count; "Air" < "Blazer")
    blazer = d.product("Blazer Tie")  # 4 -> 4th
    dunk_hi = d.product("Dunk Twin", product_id=uid(0x99, 2))  # 3, same name, larger id -> 6th
    dunk_lo = d.product("Dunk Twin", product_id=uid(0x99, 1))  # 3, smaller id -> 5th
    forum = d.product("Forum Low")  # 2 -> 7th (ties Gazelle; "Forum" < "Gazelle")
    gazelle = d.product("Gazelle")  # 2 -> 8th
    huarache = d.product("Huarache")  # 1 -> 9th
    kobe = d.product("Kobe")  # 1 -> 10th
    lebron = d.product("Lebron")  # 1 -> 11th: cut by the limit of 10
    trend(d.variant(zebra, "8"), 6)
    y_t = d.variant(yeezy, "8")
    # Yeezy's 5: two plain offers, a soft-deleted one, one by a deleted user, a DECLINED one. If any
    # of the last three were dropped it would have <= 4 and sort after "Air Max Tie"/"Blazer Tie".
    trend(y_t, 2)
    d.offer(trader, [y_t], created_at=RECENT, status="OPEN", deleted_at=DELETED)
    d.offer(ghost, [y_t], created_at=RECENT, status="COMPLETED")
    d.offer(trader, [y_t], created_at=RECENT, status="DECLINED")
    trend(d.variant(airmax, "8"), 4)
    trend(d.variant(blazer, "8"), 4)
    trend(d.variant(dunk_hi, "8"), 3)
    trend(d.variant(dunk_lo, "8"), 3)
    trend(d.variant(forum, "8"), 2)
    g_t, g_t2 = d.variant(gazelle, "8"), d.variant(gazelle, "8.5")
    # one offer holding two Gazelle variants counts once: 2, not 3 (3 would tie the Dunks and beat Forum)
    trend(g_t, 1)
    d.offer(trader, [g_t, g_t2], created_at=RECENT, status="COMPLETED")
    # Huarache's only offer is exactly at the window start (inclusive): 1. Were the edge exclusive,
    # Huarache would not trend at all and Lebron would become 10th.
    trend(d.variant(huarache, "8"), 1, when=TRENDING_START)
    trend(d.variant(kobe, "8"), 1)
    l_t = d.variant(lebron, "8")
    # Lebron: 1 inside, one a second before the window and one a second after as_of (both outside);
    # counted, they would lift Lebron into the top 10.
    trend(l_t, 1)
    trend(l_t, 1, when=TRENDING_START - SEC)
    trend(l_t, 1, when=AS_OF + SEC)

    # --- owned variants and their variant_open_offers ------------------------------------------
    ids["zA"] = z_a = d.variant(zebra, "9")
    demand(z_a, 1)
    demand(z_a, 1, when=OPEN_START)  # exactly at the 30-day edge: counts -> 2 (at the limit)
    d.wishlist(trader, z_a)  # wishlist_count 1
    z_b = d.variant(zebra, "9.5")
    demand(z_b, 1)  # the only one that counts -> 1 (one below the limit)
    demand(z_b, 1, when=OPEN_START - SEC)  # a second too old
    demand(z_b, 1, deleted_at=DELETED)  # soft-deleted
    demand(z_b, 1, status="COMPLETED")  # not open
    demand(z_b, 1, when=AS_OF + SEC)  # after as_of
    ids["yA"] = y_a = d.variant(yeezy, "10")
    demand(y_a, 1)
    demand(y_a, 1, status="PENDING")  # the original's (non-existent) PENDING also counts
    d.offer(trader, [y_a, y_a], created_at=OLDER, owners=["CREATOR", "RECEIVER"])  # distinct: 1 -> total 3
    ids["aA"] = a_a = d.variant(airmax, "10")  # lower id than a_b
    demand(a_a, 2)
    a_b = d.variant(airmax, "10.5")  # no demand
    b_a = d.variant(blazer, "11")
    demand(b_a, 1)  # 1: fails
    ids["bB"] = b_b = d.variant(blazer, "11.5")
    demand(b_b, 2)
    ids["dlA"] = dl_a = d.variant(dunk_lo, "7")
    demand(dl_a, 2)
    ids["dhA"] = dh_a = d.variant(dunk_hi, "7")
    demand(dh_a, 2)
    ids["fA"] = f_a = d.variant(forum, "12")
    demand(f_a, 2)
    # wishlist_count(fA) = 2: two live rows of live users; a deleted row and a deleted user's row don't count
    w1, w2 = d.user("W1"), d.user("W2")
    d.wishlist(w1, f_a)
    d.wishlist(w2, f_a)
    d.wishlist(trader, f_a, deleted_at=DELETED)
    d.wishlist(ghost, f_a)
    ids["gA"] = g_a = d.variant(gazelle, "12")
    demand(g_a, 2)
    ids["hA"] = h_a = d.variant(huarache, "13")
    demand(h_a, 2)
    ids["kA"] = k_a = d.variant(kobe, None)  # no mens_size -> 'Unknown'
    demand(k_a, 2)
    l_a = d.variant(lebron, "9")
    demand(l_a, 2)

    def owner(
        key: str,
        first: str | None,
        username: str | None,
        *items: str,
        size: str | None = "10",
        last_active: Any = ACTIVE,
        status: str = "OPEN_FOR_TRADE",
        item_deleted: int = 0,
        **kw: Any,
    ) -> str:
        ids[key] = user = d.user(first, username=username, size=size, last_active=last_active, **kw)
        for variant in items:
            d.inventory(user, variant, status=status, deleted_at=item_deleted)
        return user

    # user ids grow with creation order, so within one rank rows appear in the order created here
    owner("alice", "Alice", "alice", z_a, size="9", last_active=ts("2026-11-19T08:30:00.123456+00:00"))
    owner("amy", "Amy", "amy", z_b)  # zB has 1 open offer -> dropped: top1 is alice alone
    # bob owns Air Max Tie (3rd, alphabetically first) and Yeezy Foam (2nd): best rank wins -> Yeezy
    owner("bob", "Bob", "bob", a_a, y_a)
    # carl owns Blazer Tie (4th, bA: 1 open offer) and Gazelle (8th, gA: 2). Blazer is chosen first,
    # then fails the demand filter: carl is dropped, not moved to Gazelle.
    owner("carl", "Carl", "carl", b_a, g_a)
    # dana owns two Air Max Tie variants (inserted aB first): the lowest variant id, aA, is taken
    owner("dana", "Dana", "dana", a_b, a_a)
    owner("bea", "Bea", "bea", b_b)
    owner("fred", "Fred", "fred", dl_a)
    owner("eve", "Eve", "eve", dh_a)
    # rank 7 (Forum Low): kept with their quirks
    owner("gus", "Gus", "gus", f_a)
    owner("blank", "", "blank", f_a)  # '' first name: Layer 2 only tests IS NOT NULL
    owner("sam", "Sam", "sam", f_a, size=None)  # two preferred sizes: the most recently updated (11)
    d.size(ids["sam"], "9", updated_at=ts("2026-01-01T00:00:00+00:00"))
    d.size(ids["sam"], "11", updated_at=ts("2026-06-01T00:00:00+00:00"))
    owner("delsize", "Delsize", "delsize", f_a, size=None)
    d.size(ids["delsize"], "10.5", deleted_at=DELETED)  # a soft-deleted preference still counts (2.6)
    # an OPEN_FOR_TRADE item with deleted_at set: the original never checks inventory deleted_at
    owner("delitem", "Delitem", "delitem", f_a, item_deleted=DELETED)
    owner("edge", "Edge", "edge", f_a, last_active=ACTIVE_START)  # exactly 90 days: inside
    owner("hostile", 'Zoë "The, Boss"', HOSTILE_USERNAME, f_a)
    owner("hal", "Hal", "hal", g_a)
    owner("ian", "Ian", "ian", h_a)
    owner("jan", "Jan", "jan", k_a)
    owner("ken", "Ken", "ken", l_a)  # Lebron is 11th: not trending -> absent
    # excluded though each owns fA (2 open offers), one reason each
    owner("x_nouser", "NoUsername", None, f_a)
    owner("x_nomail", "NoMail", "nomail", f_a, email=None)
    owner("x_nofirst", None, "nofirst", f_a)
    owner("x_nosize", "NoSize", "nosize", f_a, size=None)
    owner("x_womens", "Womens", "womens", f_a, size=None)
    d.size(ids["x_womens"], "10", womens=True)
    owner("x_notpref", "NotPreferred", "notpref", f_a, size=None)
    d.size(ids["x_notpref"], "10", preferred=False)
    owner("x_deleted", "Deleted", "deleted", f_a, deleted_at=DELETED)
    owner("x_noactivity", "NoActivity", "noactivity", f_a, last_active=None)
    owner("x_stale", "Stale", "stale", f_a, last_active=ACTIVE_START - SEC)
    owner("x_removed", "Removed", "removed", f_a, status="REMOVED")
    d.close()
    return ids


@pytest.fixture(scope="module")
def layer2_run(layer2_db: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_audience(layer2_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path_factory.mktemp("layer2"))


def test_top1_holds_the_first_ranked_product_owners(layer2_db: dict[str, str], layer2_run: Any) -> None:
    ids = layer2_db
    assert layer2_run.status == "succeeded", layer2_run.manifest.errors
    # alice only (amy's zB has 1 open offer); zA: 2 open offers (one exactly 30 days old), 1 wish
    assert read_csv(layer2_run, "trending_top1") == [
        row(
            ids["alice"],
            "alice",
            "Alice",
            "9",
            "Zebra Runner",
            "1st",
            ids["zA"],
            "9",
            1,
            2,
            last_active="2026-11-19 08:30:00.123456+00:00",
        ),
    ]


def test_main_file_holds_ranks_2_to_10_best_rank_per_user(layer2_db: dict[str, str], layer2_run: Any) -> None:
    ids = layer2_db

    def forum(key: str, first: str, username: str, size: str = "10", active: str = ACTIVE_TEXT) -> dict[str, str]:
        """Rank 7 (Forum Low, fA: wishlist_count 2, 2 open offers)."""
        return row(ids[key], username, first, size, "Forum Low", "7th", ids["fA"], "12", 2, 2, active)

    assert read_csv(layer2_run, "trending") == [
        row(ids["bob"], "bob", "Bob", "10", "Yeezy Foam", "2nd", ids["yA"], "10", 0, 3),
        row(ids["dana"], "dana", "Dana", "10", "Air Max Tie", "3rd", ids["aA"], "10", 0, 2),
        row(ids["bea"], "bea", "Bea", "10", "Blazer Tie", "4th", ids["bB"], "11.5", 0, 2),
        row(ids["fred"], "fred", "Fred", "10", "Dunk Twin", "5th", ids["dlA"], "7", 0, 2),
        row(ids["eve"], "eve", "Eve", "10", "Dunk Twin", "6th", ids["dhA"], "7", 0, 2),
        forum("gus", "Gus", "gus"),
        forum("blank", "", "blank"),
        forum("sam", "Sam", "sam", size="11"),
        forum("delsize", "Delsize", "delsize", size="10.5"),
        forum("delitem", "Delitem", "delitem"),
        forum("edge", "Edge", "edge", active="2026-08-22 12:00:00+00:00"),
        forum("hostile", 'Zoë "The, Boss"', HOSTILE_USERNAME),
        row(ids["hal"], "hal", "Hal", "10", "Gazelle", "8th", ids["gA"], "12", 0, 2),
        row(ids["ian"], "ian", "Ian", "10", "Huarache", "9th", ids["hA"], "13", 0, 2),
        row(ids["jan"], "jan", "Jan", "10", "Kobe", "10th", ids["kA"], "Unknown", 0, 2),
    ]


def test_funnel_counts_the_demand_drops(layer2_run: Any) -> None:
    steps = {s.step: s for s in layer2_run.manifest.steps}
    # 11 products had offers in the window; the limit keeps 10. amy (zB: 1 open offer) and carl
    # (Blazer's bA: 1) fail the demand filter.
    assert steps["load:trending"].rows == 10
    assert steps["thresholds"].removed == {"all: variant_open_offers >= 2": 2}
    assert layer2_run.manifest.segments == {"top1": 1, "rest": 15}


def test_test_files_take_the_founder_and_the_first_row(layer2_db: dict[str, str], layer2_run: Any) -> None:
    ids = layer2_db
    assert read_csv(layer2_run, "trending_top1", test=True) == [
        {**row(ids["alice"], "", "", "", "Zebra Runner", "1st", ids["zA"], "9", 1, 2), **FOUNDER}
    ]
    assert read_csv(layer2_run, "trending", test=True) == [
        {**row(ids["bob"], "", "", "", "Yeezy Foam", "2nd", ids["yA"], "10", 0, 3), **FOUNDER}
    ]


def test_file_names_headers_and_crlf(layer2_run: Any) -> None:
    files = sorted(p.name for p in layer2_run.run_dir.glob("*.csv"))
    assert files == sorted(
        [
            f"trending-closet-items-top1_{STAMP}.csv",
            f"trending-closet-items_{STAMP}.csv",
            f"trending-closet-items-top1_TEST_{STAMP}.csv",
            f"trending-closet-items_TEST_{STAMP}.csv",
        ]
    )
    for name in ("trending_top1", "trending"):
        for test in (False, True):
            assert header(layer2_run, name, test=test) == HEADER
    raw = (layer2_run.run_dir / f"trending-closet-items-top1_{STAMP}.csv").read_bytes()
    assert raw.count(b"\r\n") == 2 and b"\n" not in raw.replace(b"\r\n", b"")
    # the hostile username is quoted, its own CRLF kept inside the quotes (RFC 4180)
    main = (layer2_run.run_dir / f"trending-closet-items_{STAMP}.csv").read_bytes()
    assert b'"x,""y""\r\nz"' in main and '"Zoë ""The, Boss"""'.encode() in main


def test_same_as_of_gives_byte_identical_files(layer2_db: dict[str, str], layer2_run: Any, tmp_path: Path) -> None:
    again = run_audience(layer2_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path)
    digests = lambda r: sorted((o.file, o.sha256) for o in r.manifest.outputs)  # noqa: E731
    assert digests(again) == digests(layer2_run)


def test_trending_limit_override_brings_in_the_11th(layer2_db: dict[str, str], tmp_path: Path) -> None:
    """--var trending_limit=11: Lebron (11th) now trends and ken appears with the word '11th'."""
    result = run_audience(layer2_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path, trending_limit=11)
    last = (read_csv(result, "trending") or [])[-1]
    assert (last["user_id"], last["product_name"], last["trending_rank"]) == (layer2_db["ken"], "Lebron", "11th")
    assert result.manifest.params == {"lookback_days": 7, "activity_days": 90, "trending_limit": 11}


@pytest.fixture
def split_db(app_db: str) -> dict[str, str]:
    """Alpha trends 1st but its only owner fails the demand filter; Beta (2nd) has a passing owner."""
    d = AppData(app_db)
    ids = {"dsn": app_db}
    trader = d.user("Trader")
    alpha, beta = d.product("Alpha"), d.product("Beta")
    alpha_v = d.variant(alpha, "10")
    ids["beta_v"] = beta_v = d.variant(beta, "10")
    for _ in range(2):
        d.offer(trader, [alpha_v], created_at=RECENT, status="COMPLETED")  # Alpha: 2 -> 1st
    d.offer(trader, [beta_v], created_at=RECENT, status="COMPLETED")  # Beta: 1 -> 2nd
    d.offer(trader, [alpha_v], created_at=OLDER)  # alpha_v: 1 open offer
    ids["beta_open"] = d.offer(trader, [beta_v], created_at=OLDER)
    d.offer(trader, [beta_v], created_at=OLDER)  # beta_v: 2 open offers
    last_active = AS_OF - 2 * DAY
    d.inventory(d.user("Al", username="al", size="9", last_active=last_active), alpha_v)
    ids["bo"] = bo = d.user("Bo", username="bo", size="9", last_active=last_active)
    d.inventory(bo, beta_v)
    d.close()
    return ids


def test_file_empty_after_split_is_header_only_without_test_file(split_db: dict[str, str], tmp_path: Path) -> None:
    result = run_audience(split_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path)
    assert result.status == "succeeded"
    # top1: Al fails (1 open offer) -> written with its header only; its TEST file is not written
    assert read_csv(result, "trending_top1") == []
    top1 = next(o for o in result.manifest.outputs if o.name == "trending_top1" and not o.is_test)
    assert (result.run_dir / top1.file).read_bytes() == (",".join(HEADER) + "\r\n").encode()
    assert read_csv(result, "trending_top1", test=True) is None
    assert not (result.run_dir / f"trending-closet-items-top1_TEST_{STAMP}.csv").exists()
    assert read_csv(result, "trending") == [
        row(
            split_db["bo"],
            "bo",
            "Bo",
            "9",
            "Beta",
            "2nd",
            split_db["beta_v"],
            "10",
            0,
            2,
            last_active="2026-11-18 12:00:00+00:00",
        )
    ]
    assert read_csv(result, "trending", test=True) == [
        {**row("", "", "", "", "Beta", "2nd", split_db["beta_v"], "10", 0, 2), **FOUNDER}
    ]


@pytest.mark.parametrize(
    "override",
    [
        {"activity_days": 1},  # both owners were active 2 days ago: nobody owns a trending shoe
        {"lookback_days": 1},  # all trending offers are 2 days old: nothing trends
    ],
)
def test_empty_audience_writes_no_files(split_db: dict[str, str], tmp_path: Path, override: dict[str, int]) -> None:
    result = run_audience(split_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path, **override)
    assert result.status == "empty"
    assert list(result.run_dir.glob("*.csv")) == []


def test_everyone_failing_the_demand_filter_writes_no_files(split_db: dict[str, str], tmp_path: Path) -> None:
    """The original returned without files when nothing survived the demand filter."""
    with psycopg.connect(split_db["dsn"], autocommit=True) as conn:  # beta_v drops to 1 open offer
        conn.execute("UPDATE offers SET deleted_at = %s WHERE id = %s", (DELETED, split_db["beta_open"]))
    result = run_audience(split_db["dsn"], "layer2_trending_closet", AS_OF, tmp_path)
    assert result.status == "empty"
    assert result.manifest.steps[-1].removed == {"all: variant_open_offers >= 2": 2}
    assert list(result.run_dir.glob("*.csv")) == []
