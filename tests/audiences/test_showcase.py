"""Showcase on a hand-built database; every expected row reasoned out below.

as_of = 2026-11-20 12:00 UTC, activity_days 90 (active: last_active >= 2026-08-22 12:00).
The showcased product S has variants s9 (size 9), s10 (10), s11a and s11b (both 11) and sx
(no mens_size -> 'Unknown'); another product has o10 (10). Windows, inclusive at both ends:
offers 7 days [2026-11-13 12:00, as_of], open offers 30 days [2026-10-21 12:00, as_of],
trades validated 30 days [2026-10-21 12:00, as_of].

Offers (by a trader who is never in an audience):
  O1  s9        OPEN        -2d
  O2  s9        OPEN        exactly -30d
  O3  s10       OPEN        -3d
  O4  s10       OPEN, soft-deleted, -1d
  O5  s10 + s9  COMPLETED   exactly -7d
  O6  s11a      OPEN        -7d -1s
  O7  s11a      OPEN        as_of +1h (after as_of)
  O8  o10       OPEN        -1d (other product)
  O9  s11a      COMPLETED   -40d
  O10 s10       OPEN        -30d -1s
Per variant:
  s9:  open offers O1, O2 -> 2 (at the haves limit); 7d offers O1, O5 -> 2
  s10: open offers O3 -> 1 (O4 deleted, O10 too old: one below the limit); 7d O3, O4, O5 -> 3
  s11a: open O6 -> 1; 7d none (O6 a second too old, O7 after as_of) -> 0;  s11b, sx: 0 and 0
  product_offers_7d = O1, O3, O4, O5 -> 4
Trades: on O9 validated -5d (old offer, recent trade: counts), on O2 exactly -30d (counts),
on O10 -30d -1s, on O3 never validated, on O8 (other product), on O1 after as_of: none count
  product_trades_30d = 2
wishlist_count(s9) = 1 (the trader's live row; ghost's (a deleted user) and wade's deleted row don't count)
inventory_count: s9 = 5 (hana x2, both, x_nomail, x_nofirst: live owners, OPEN_FOR_TRADE, whether
or not they are eligible; the deleted ghost's item and hedy's REMOVED item don't count);
s10 = 1 (hugo); s11a, s11b, sx = 0
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from engine.spec.params import ParamError
from tests.audiences.helpers import header, read_csv, run_audience
from tests.fixtures.appdata import AppData, ts

AS_OF = ts("2026-11-20T12:00:00+00:00")
DAY, SEC = timedelta(days=1), timedelta(seconds=1)
ACTIVE = ts("2026-11-19T09:00:00+00:00")
ACTIVE_TEXT = "2026-11-19 09:00:00+00:00"
ACTIVE_START = AS_OF - 90 * DAY  # 2026-08-22 12:00
DELETED = 1700000000
STAMP = "20261120_120000"
PRODUCT = "abcdef12-3456-4789-8abc-def012345678"
FOUNDER = {"user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059", "firstName": "Mbiyimoh", "usersize": "13"}
FOUNDER_ACTIVE = "2025-08-05 20:00:00.000000+00:00"
HAVES_HEADER = [
    "user_id",
    "firstName",
    "usersize",
    "variantID",
    "relevant_variant_size",
    "wishlist_count",
    "variant_open_offers",
    "variant_offers_7d",
    "product_offers_7d",
    "product_trades_30d",
    "lastActive",
]
OTHERS_HEADER = [
    "user_id",
    "firstName",
    "usersize",
    "variantID",
    "relevant_variant_size",
    "inventory_count",
    "variant_offers_7d",
    "product_offers_7d",
    "product_trades_30d",
    "lastActive",
]
HOSTILE = 'Zoë "The, Boss"\n'


def have(
    user: str,
    first: str,
    size: str,
    variant: str,
    vsize: str,
    wishlist: int,
    open_offers: int,
    offers_7d: int,
    product_7d: int = 4,
    trades: int = 2,
    active: str = ACTIVE_TEXT,
) -> dict[str, str]:
    return dict(
        zip(
            HAVES_HEADER,
            [
                user,
                first,
                size,
                variant,
                vsize,
                str(wishlist),
                str(open_offers),
                str(offers_7d),
                str(product_7d),
                str(trades),
                active,
            ],
        )
    )


def other(
    user: str,
    first: str,
    size: str,
    variant: str,
    vsize: str,
    inventory: int,
    offers_7d: int,
    product_7d: int = 4,
    trades: int = 2,
    active: str = ACTIVE_TEXT,
) -> dict[str, str]:
    return dict(
        zip(
            OTHERS_HEADER,
            [user, first, size, variant, vsize, str(inventory), str(offers_7d), str(product_7d), str(trades), active],
        )
    )


@pytest.fixture(scope="module")
def showcase_db(create_database: Callable[..., str]) -> dict[str, str]:
    dsn = create_database()
    d = AppData(dsn)
    ids: dict[str, str] = {"dsn": dsn}
    trader = d.user("Trader")  # no size, no activity: never in an audience
    ghost = d.user("Ghost", deleted_at=DELETED, size="9", last_active=ACTIVE)
    product = d.product('Air Jordan 4 "Bred"', product_id=PRODUCT)
    ids["s9"] = s9 = d.variant(product, "9")
    ids["s10"] = s10 = d.variant(product, "10")
    ids["s11a"] = s11a = d.variant(product, "11")
    ids["s11b"] = s11b = d.variant(product, "11")
    ids["sx"] = sx = d.variant(product, None)
    o10 = d.variant(d.product("Other Shoe"), "10")

    def offer(items: list[str], when: Any, status: str = "OPEN", **kw: Any) -> str:
        return d.offer(trader, items, created_at=when, status=status, **kw)

    o1 = offer([s9], AS_OF - 2 * DAY)
    o2 = offer([s9], AS_OF - 30 * DAY)
    o3 = offer([s10], AS_OF - 3 * DAY)
    offer([s10], AS_OF - DAY, deleted_at=DELETED)
    offer([s10, s9], AS_OF - 7 * DAY, status="COMPLETED")
    offer([s11a], AS_OF - 7 * DAY - SEC)
    offer([s11a], AS_OF + timedelta(hours=1))
    o8 = offer([o10], AS_OF - DAY)
    o9 = offer([s11a], AS_OF - 40 * DAY, status="COMPLETED")
    o10_ = offer([s10], AS_OF - 30 * DAY - SEC)
    d.trade(o9, AS_OF - 5 * DAY)
    d.trade(o2, AS_OF - 30 * DAY)
    d.trade(o10_, AS_OF - 30 * DAY - SEC)
    d.trade(o3, None)
    d.trade(o8, AS_OF - DAY)
    d.trade(o1, AS_OF + timedelta(hours=1))
    d.wishlist(trader, s9)
    d.wishlist(ghost, s9)
    d.inventory(ghost, s9)

    def user(
        key: str, first: str | None = "auto", size: str | None = "9", *, last_active: Any = ACTIVE, **kw: Any
    ) -> str:
        ids[key] = d.user(key.capitalize() if first == "auto" else first, size=size, last_active=last_active, **kw)
        return ids[key]

    # user ids grow with creation order: rows of one file appear in this order
    hana = user("hana")
    d.inventory(hana, s9)
    d.inventory(hana, s9)  # two pairs of s9 -> two haves rows
    hugo = user("hugo", size="10")
    d.inventory(hugo, s10)  # s10: 1 open offer -> dropped from haves, and not everybody-else
    both = user("both")
    d.inventory(both, s9)  # a have (s9) ...
    d.wishlist(both, s10)  # ... and a want (s10): the audiences are built independently
    hedy = user("hedy", size="10")
    d.inventory(hedy, s9, status="REMOVED")  # REMOVED: not a have -> everybody-else, s10 in her size
    wade = user("wade", size="11")
    for variant in (s11a, s11b, sx):
        d.wishlist(wade, variant)  # three wants rows
    d.wishlist(wade, s9, deleted_at=DELETED)
    wendy = user("wendy")
    d.wishlist(wendy, s10, deleted_at=DELETED)  # deleted wish: not a want -> everybody-else, s9
    user("ella", size="11")  # two variants in size 11 -> two everybody-else rows
    user("eli", size="12")  # no variant in size 12 -> left out
    eddy = user("eddy", size="10")
    d.inventory(eddy, o10)  # owns another product only -> everybody-else, s10
    erin = user("erin", size=None)
    d.size(erin, "9")
    d.size(erin, "10")  # two preferred sizes -> one row per size (as the original)
    user("blank", first="")  # '' first name: kept (the SQL tests IS NOT NULL only)
    user("hostile", first=HOSTILE)
    user("edge", last_active=ACTIVE_START)  # active exactly 90 days ago: inside
    user("x_nousername", username=None)  # username is not a showcase column: kept
    # excluded, one reason each (all size 9, so each would otherwise be everybody-else with s9)
    nomail = user("x_nomail", email=None)
    d.inventory(nomail, s9)  # not a have without email, but its item counts in inventory_count
    d.inventory(user("x_nofirst", first=None), s9)  # the same
    user("x_nosize", size=None)
    womens = user("x_womens", size=None)
    d.size(womens, "9", womens=True)
    user("x_deleted", deleted_at=DELETED)
    user("x_noactivity", last_active=None)
    user("x_stale", last_active=ACTIVE_START - SEC)
    d.close()
    return ids


@pytest.fixture(scope="module")
def showcase_run(showcase_db: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_audience(showcase_db["dsn"], "showcase", AS_OF, tmp_path_factory.mktemp("showcase"), product_id=PRODUCT)


def test_haves_one_row_per_owned_pair_with_demand(showcase_db: dict[str, str], showcase_run: Any) -> None:
    ids = showcase_db
    assert showcase_run.status == "succeeded", showcase_run.manifest.errors
    hana = have(ids["hana"], "Hana", "9", ids["s9"], "9", 1, 2, 2)
    assert read_csv(showcase_run, "haves") == [
        hana,
        hana,  # two pairs, not deduplicated
        have(ids["both"], "Both", "9", ids["s9"], "9", 1, 2, 2),
        # hugo's s10 has 1 open offer: dropped
    ]
    steps = {s.step: s for s in showcase_run.manifest.steps}
    assert steps["thresholds"].removed == {"haves: variant_open_offers >= 2": 1}


def test_wants_one_row_per_live_wishlist_row(showcase_db: dict[str, str], showcase_run: Any) -> None:
    ids = showcase_db
    assert read_csv(showcase_run, "wants") == [
        other(ids["both"], "Both", "9", ids["s10"], "10", 1, 3),
        other(ids["wade"], "Wade", "11", ids["s11a"], "11", 0, 0),
        other(ids["wade"], "Wade", "11", ids["s11b"], "11", 0, 0),
        other(ids["wade"], "Wade", "11", ids["sx"], "Unknown", 0, 0),
    ]


def test_everybody_else_gets_the_variant_in_their_size(showcase_db: dict[str, str], showcase_run: Any) -> None:
    ids = showcase_db
    in_9 = lambda key, first: other(ids[key], first, "9", ids["s9"], "9", 5, 2)  # noqa: E731
    in_10 = lambda key, first: other(ids[key], first, "10", ids["s10"], "10", 1, 3)  # noqa: E731
    assert read_csv(showcase_run, "everybody_else") == [
        in_10("hedy", "Hedy"),
        in_9("wendy", "Wendy"),
        other(ids["ella"], "Ella", "11", ids["s11a"], "11", 0, 0),
        other(ids["ella"], "Ella", "11", ids["s11b"], "11", 0, 0),
        in_10("eddy", "Eddy"),
        in_9("erin", "Erin"),
        in_10("erin", "Erin"),
        in_9("blank", ""),
        in_9("hostile", HOSTILE),
        other(ids["edge"], "Edge", "9", ids["s9"], "9", 5, 2, active="2026-08-22 12:00:00+00:00"),
        in_9("x_nousername", "X_nousername"),
    ]


def test_test_files_take_the_founder_and_the_first_row(showcase_db: dict[str, str], showcase_run: Any) -> None:
    ids = showcase_db
    assert read_csv(showcase_run, "haves", test=True) == [
        {**have("", "", "", ids["s9"], "9", 1, 2, 2, active=FOUNDER_ACTIVE), **FOUNDER}
    ]
    assert read_csv(showcase_run, "wants", test=True) == [
        {**other("", "", "", ids["s10"], "10", 1, 3, active=FOUNDER_ACTIVE), **FOUNDER}
    ]
    assert read_csv(showcase_run, "everybody_else", test=True) == [
        {**other("", "", "", ids["s10"], "10", 1, 3, active=FOUNDER_ACTIVE), **FOUNDER}
    ]


def test_file_names_use_the_product_prefix_and_original_headers(showcase_run: Any) -> None:
    files = sorted(p.name for p in showcase_run.run_dir.glob("*.csv"))
    assert files == sorted(
        f"showcase-{kind}_abcdef12_{tag}{STAMP}.csv"
        for kind in ("haves", "wants", "everybody-else")
        for tag in ("", "TEST_")
    )
    assert header(showcase_run, "haves") == HAVES_HEADER
    assert header(showcase_run, "wants") == OTHERS_HEADER
    assert header(showcase_run, "everybody_else", test=True) == OTHERS_HEADER
    raw = (showcase_run.run_dir / f"showcase-everybody-else_abcdef12_{STAMP}.csv").read_bytes()
    assert '"Zoë ""The, Boss""\n"'.encode() in raw  # quoted; the embedded LF kept as is
    assert raw.count(b"\r\n") == 12  # header + 11 rows, CRLF each


def test_same_as_of_gives_byte_identical_files(showcase_db: dict[str, str], showcase_run: Any, tmp_path: Path) -> None:
    again = run_audience(showcase_db["dsn"], "showcase", AS_OF, tmp_path, product_id=PRODUCT)
    digests = lambda r: sorted((o.file, o.sha256) for o in r.manifest.outputs)  # noqa: E731
    assert digests(again) == digests(showcase_run)


def test_product_id_is_required(showcase_db: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="product_id"):
        run_audience(showcase_db["dsn"], "showcase", AS_OF, tmp_path)


@pytest.fixture
def solo_db(app_db: str) -> dict[str, str]:
    """One eligible user, who wishes the product: haves and everybody-else are empty."""
    d = AppData(app_db)
    ids = {"dsn": app_db}
    product = d.product("Solo Shoe", product_id=PRODUCT)
    ids["q10"] = q10 = d.variant(product, "10")
    ids["solo"] = solo = d.user("Solo", size="9", last_active=AS_OF - 2 * DAY)
    d.wishlist(solo, q10)
    d.close()
    return ids


def test_empty_audiences_are_written_header_only_with_fallback_test_rows(
    solo_db: dict[str, str], tmp_path: Path
) -> None:
    result = run_audience(solo_db["dsn"], "showcase", AS_OF, tmp_path, product_id=PRODUCT)
    assert result.status == "succeeded"
    assert read_csv(result, "haves") == [] and read_csv(result, "everybody_else") == []
    assert read_csv(result, "wants") == [
        other(solo_db["solo"], "Solo", "9", solo_db["q10"], "10", 0, 0, 0, 0, "2026-11-18 12:00:00+00:00")
    ]
    # empty audience: the original's fallback values ('N/A', zeros, lastActive 2025-08-06)
    assert read_csv(result, "haves", test=True) == [
        {**have("", "", "", "N/A", "N/A", 0, 0, 0, 0, 0, "2025-08-06"), **FOUNDER}
    ]
    assert read_csv(result, "everybody_else", test=True) == [
        {**other("", "", "", "N/A", "N/A", 0, 0, 0, 0, "2025-08-06"), **FOUNDER}
    ]
    assert read_csv(result, "wants", test=True) == [
        {**other("", "", "", solo_db["q10"], "10", 0, 0, 0, 0, FOUNDER_ACTIVE), **FOUNDER}
    ]
    assert len(list(result.run_dir.glob("*.csv"))) == 6


@pytest.mark.parametrize(
    "variables",
    [
        {"product_id": "00000000-0000-4000-8000-000000000000"},  # no such product: zeros, nobody
        {"product_id": PRODUCT, "activity_days": 1},  # solo was active 2 days ago
    ],
)
def test_all_three_empty_writes_no_files(solo_db: dict[str, str], tmp_path: Path, variables: dict[str, Any]) -> None:
    result = run_audience(solo_db["dsn"], "showcase", AS_OF, tmp_path, **variables)
    assert result.status == "empty"
    assert list(result.run_dir.glob("*.csv")) == []


def test_haves_all_failing_demand_still_write_the_files(app_db: str, tmp_path: Path) -> None:
    """One eligible user owns the product, its variant has 1 open offer: haves empty only after
    the demand filter. The original returned early only when all three audiences were empty
    before it, so here it wrote all three files header-only and the three fallback TEST files."""
    d = AppData(app_db)
    variant = d.variant(d.product("Lonely Shoe", product_id=PRODUCT), "10")
    owner = d.user("Owner", size="10", last_active=AS_OF - 2 * DAY)
    d.inventory(owner, variant)
    d.offer(d.user("Trader"), [variant], created_at=AS_OF - 3 * DAY)
    d.close()
    result = run_audience(app_db, "showcase", AS_OF, tmp_path, product_id=PRODUCT)
    assert sorted(p.name for p in result.run_dir.glob("*.csv")) == sorted(
        f"showcase-{kind}_abcdef12_{tag}{STAMP}.csv"
        for kind in ("haves", "wants", "everybody-else")
        for tag in ("", "TEST_")
    )
    assert read_csv(result, "haves") == []
    # product_offers_7d is 1, yet the TEST row takes the original's all-zero fallback
    assert read_csv(result, "haves", test=True) == [
        {**have("", "", "", "N/A", "N/A", 0, 0, 0, 0, 0, "2025-08-06"), **FOUNDER}
    ]
