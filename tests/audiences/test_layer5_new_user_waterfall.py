"""Layer 5 new-user waterfall on a hand-built database; every expected row reasoned out below.

as_of = 2026-11-20 12:00 UTC, defaults min_hours 12 / max_days 14: new users are those
created in [2026-11-06 12:00, 2026-11-20 00:00], both ends inclusive. Each lands in the
first level that applies (1 no inventory row at all, 2 no bio, 3 never created an offer,
4 no live wishlist row, 5 everything done) and in no other. Signup times are given in
hours before as_of; files list newest signups first.

Target shoes (levels 3-5), first source that has one: live desired item (highest
offers_count, then newest), the newest offer's first item, the newest live wishlist item,
any offer item even with a missing variant ('Unknown Product').
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
LONG_AGO = AS_OF - timedelta(days=400)
DELETED = 1700000000
STAMP = "20261120_120000"
FOUNDER = {"user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059", "username": "beems", "firstName": "Mbiyimoh"}
FOUNDER_TARGET = {
    "top_target_shoe": 'Air Jordan 1 Retro High OG "Bred Toe"',
    "top_target_shoe_variantid": "sample-variant-id-for-testing",
}
BASIC = ["user_id", "username", "firstName", "new_user_level"]
WITH_TARGET = BASIC + ["top_target_shoe", "top_target_shoe_variantid"]
HOSTILE_USERNAME = 'a,"b"\r\nc'
MISSING_VARIANT = uid(0x77, 1)  # an offer item pointing at a variant that does not exist


def hours(n: float) -> Any:
    return AS_OF - timedelta(hours=n)


@pytest.fixture(scope="module")
def waterfall_db(create_database: Callable[..., str]) -> dict[str, str]:
    dsn = create_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # production data can hold offer items whose variant is gone: the last fallback tolerates them
        conn.execute("ALTER TABLE offer_items DROP CONSTRAINT offer_items_product_variant_id_fkey")
    d = AppData(dsn)
    ids: dict[str, str] = {"dsn": dsn}
    old = d.user("Old", username="old", size="10", created_at=LONG_AGO)  # signed up long ago: never new
    variants = {name: d.variant(d.product(f"Shoe {name}"), "10") for name in "ABCDEFGHIJKZ"}
    ids.update({f"v{name}": v for name, v in variants.items()})
    a, b, c, dd, e, f, g, h, i, j, k, z = variants.values()

    def new(
        key: str,
        at_hours: float,
        *,
        first: str | None = "auto",
        size: str | None = "10",
        bio: str | None = "sneakerhead",
        username: str | None = "auto",
        shoes: bool = True,
        **kw: Any,
    ) -> str:
        """A new user; by default with a bio and a closet item (so level 1 and 2 don't apply)."""
        ids[key] = user = d.user(
            key.capitalize() if first == "auto" else first,
            username=key if username == "auto" else username,
            size=size,
            bio=bio,
            created_at=hours(at_hours),
            **kw,
        )
        if shoes:
            d.inventory(user, a, created_at=hours(at_hours))
        return user

    # level 1: no inventory row at all
    new("n1_edge_new", 12, shoes=False)  # exactly as_of - 12h: inside
    new("n1_plain", 30, shoes=False, bio=None, username=None)  # also no bio/offers/wishlist: level 1 only;
    #                                                            no user_activities row: kept; NULL username
    new("n1_nomail", 35, shoes=False, email=None)  # NULL email: only Layer 2/showcase need one
    new("n1_blank", 40, shoes=False, first="")  # '' first name kept (IS NOT NULL only)
    new("n1_hostile", 50, shoes=False, first='Zoë "The, Boss"', username=HOSTILE_USERNAME)
    multi = new("n1_multi", 60, shoes=False, size=None)  # two preferred sizes: listed once
    d.size(multi, "9")
    d.size(multi, "10")
    new("n1_edge_old", 14 * 24, shoes=False)  # exactly as_of - 14 days: inside
    # not new users, one reason each
    new("x_too_old", 14 * 24 + 1 / 3600, shoes=False)  # a second before the window
    new("x_too_young", 12 - 1 / 3600, shoes=False)  # a second after its end
    new("x_nofirst", 30, first=None, shoes=False)
    new("x_nosize", 30, size=None, shoes=False)
    notpref = new("x_notpref", 30, size=None, shoes=False)
    d.size(notpref, "10", preferred=False)
    new("x_deleted", 30, deleted_at=DELETED, shoes=False)

    # level 2: some inventory row (any status, any deleted_at), but no bio
    removed = new("n2_removed", 26, bio=None, shoes=False, last_active=AS_OF)
    d.inventory(removed, a, status="REMOVED")  # level 1 ignores status: has shoes
    deleted_item = new("n2_deleted_item", 36, bio="   ", shoes=False)  # whitespace bio = no bio
    d.inventory(deleted_item, a, deleted_at=DELETED)
    new("n2_empty_bio", 46, bio="")  # also no offers/wishlist: level 2 only

    # level 3: shoes and bio, never created an offer
    desired = new("n3_desired", 28)
    d.desired(desired, a, 3, created_at=hours(10))  # newest, but fewer offers
    d.desired(desired, dd, 5, created_at=hours(72))
    d.desired(desired, b, 5, created_at=hours(48))  # most offers, and the newer of the two: B
    d.desired(desired, z, 9, deleted_at=DELETED)  # deleted: ignored despite 9
    d.wishlist(desired, c, created_at=hours(20))  # a newer wishlist item loses to desired
    wish = new("n3_wish", 38)
    d.wishlist(wish, c, created_at=hours(40))  # newest live wishlist item: C
    d.wishlist(wish, dd, created_at=hours(30), deleted_at=DELETED)
    d.wishlist(wish, e, created_at=hours(50))
    receiver = new("n3_receiver", 48)
    d.offer(old, [f], receiver=receiver, created_at=hours(40))  # received, not created: still level 3;
    #                                                            no target at all -> empty cells

    # level 4: shoes, bio, offers, no live wishlist row
    recent = new("n4_recent", 20)
    # both offers soft-deleted: they still count as offers (level 4, not 3); the newest one (DECLINED)
    # gives the target, its first item G
    d.offer(recent, [f], created_at=hours(19), deleted_at=DELETED)
    d.offer(recent, [g, h], created_at=hours(15), status="DECLINED", deleted_at=DELETED)
    d.wishlist(recent, i, deleted_at=DELETED)  # a deleted wishlist row doesn't count
    n4_desired = new("n4_desired", 32)
    d.offer(n4_desired, [f], created_at=hours(30))
    d.desired(n4_desired, k, 1)  # desired beats the recent offer: K
    dangling = new("n4_dangling", 42)
    d.offer(dangling, [MISSING_VARIANT], created_at=hours(40))  # only the last fallback finds it

    # level 5: everything done
    star = new("n5_offer", 27)
    d.offer(star, [i], created_at=hours(25))
    d.wishlist(star, j, created_at=hours(24))  # the recent offer beats the wishlist: I
    star_desired = new("n5_desired", 37)
    d.offer(star_desired, [i], created_at=hours(30))
    d.wishlist(star_desired, j, created_at=hours(30))
    d.desired(star_desired, k, 3)  # K
    star_dangling = new("n5_dangling", 45)
    d.offer(star_dangling, [MISSING_VARIANT], created_at=hours(30))
    d.wishlist(star_dangling, j, created_at=hours(40))  # the wishlist comes before the last fallback: J
    d.close()
    return ids


@pytest.fixture(scope="module")
def waterfall_run(waterfall_db: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_audience(waterfall_db["dsn"], "layer5_new_user_waterfall", AS_OF, tmp_path_factory.mktemp("waterfall"))


def basic(user: str, username: str, first: str, level: int) -> dict[str, str]:
    return dict(zip(BASIC, [user, username, first, str(level)]))


def targeted(user: str, username: str, first: str, level: int, shoe: str = "", variant: str = "") -> dict[str, str]:
    return dict(zip(WITH_TARGET, [user, username, first, str(level), shoe, variant]))


def test_levels_one_and_two(waterfall_db: dict[str, str], waterfall_run: Any) -> None:
    ids = waterfall_db
    assert waterfall_run.status == "succeeded", waterfall_run.manifest.errors
    assert read_csv(waterfall_run, "no_shoes") == [
        basic(ids["n1_edge_new"], "n1_edge_new", "N1_edge_new", 1),  # -12h
        basic(ids["n1_plain"], "", "N1_plain", 1),  # -30h
        basic(ids["n1_nomail"], "n1_nomail", "N1_nomail", 1),  # -35h
        basic(ids["n1_blank"], "n1_blank", "", 1),  # -40h
        basic(ids["n1_hostile"], HOSTILE_USERNAME, 'Zoë "The, Boss"', 1),  # -50h
        basic(ids["n1_multi"], "n1_multi", "N1_multi", 1),  # -60h, once
        basic(ids["n1_edge_old"], "n1_edge_old", "N1_edge_old", 1),  # -14 days
    ]
    assert read_csv(waterfall_run, "no_bio") == [
        basic(ids["n2_removed"], "n2_removed", "N2_removed", 2),
        basic(ids["n2_deleted_item"], "n2_deleted_item", "N2_deleted_item", 2),
        basic(ids["n2_empty_bio"], "n2_empty_bio", "N2_empty_bio", 2),
    ]


def test_levels_three_to_five_carry_the_target_shoe(waterfall_db: dict[str, str], waterfall_run: Any) -> None:
    ids = waterfall_db
    assert read_csv(waterfall_run, "no_offers") == [
        targeted(ids["n3_desired"], "n3_desired", "N3_desired", 3, "Shoe B", ids["vB"]),
        targeted(ids["n3_wish"], "n3_wish", "N3_wish", 3, "Shoe C", ids["vC"]),
        targeted(ids["n3_receiver"], "n3_receiver", "N3_receiver", 3),  # kept, empty target
    ]
    assert read_csv(waterfall_run, "no_wishlist") == [
        targeted(ids["n4_recent"], "n4_recent", "N4_recent", 4, "Shoe G", ids["vG"]),
        targeted(ids["n4_desired"], "n4_desired", "N4_desired", 4, "Shoe K", ids["vK"]),
        targeted(ids["n4_dangling"], "n4_dangling", "N4_dangling", 4, "Unknown Product", MISSING_VARIANT),
    ]
    assert read_csv(waterfall_run, "new_stars") == [
        targeted(ids["n5_offer"], "n5_offer", "N5_offer", 5, "Shoe I", ids["vI"]),
        targeted(ids["n5_desired"], "n5_desired", "N5_desired", 5, "Shoe K", ids["vK"]),
        targeted(ids["n5_dangling"], "n5_dangling", "N5_dangling", 5, "Shoe J", ids["vJ"]),
    ]


def test_metrics_count_each_level_once(waterfall_run: Any) -> None:
    # 7 + 3 + 3 + 3 + 3 = 19 new users; n1_plain qualified for levels 1-4 and n2_empty_bio for
    # 2-4, yet each appears once
    metrics = waterfall_run.manifest.metrics
    assert metrics["initial_users"] == 19
    assert metrics["levels"] == [
        {"level": 1, "count": 7, "remaining_after": 12},
        {"level": 2, "count": 3, "remaining_after": 9},
        {"level": 3, "count": 3, "remaining_after": 6},
        {"level": 4, "count": 3, "remaining_after": 3},
        {"level": 5, "count": 3, "remaining_after": 0},
    ]
    assert metrics["final_remaining"] == 0
    assert metrics["levels_disjoint"] is True


def test_test_files_hold_the_founder_with_the_level(waterfall_run: Any) -> None:
    for level, name in enumerate(["no_shoes", "no_bio"], start=1):
        assert read_csv(waterfall_run, name, test=True) == [{**FOUNDER, "new_user_level": str(level)}]
    for level, name in enumerate(["no_offers", "no_wishlist", "new_stars"], start=3):
        assert read_csv(waterfall_run, name, test=True) == [{**FOUNDER, "new_user_level": str(level), **FOUNDER_TARGET}]


def test_file_names_headers_and_checksums(waterfall_run: Any) -> None:
    stems = ["no-shoes", "no-bio", "no-offers", "no-wishlist", "new-stars"]
    files = sorted(p.name for p in waterfall_run.run_dir.glob("*.csv"))
    assert files == sorted(f"{stem}-new-user-{tag}{STAMP}.csv" for stem in stems for tag in ("", "test-"))
    for name in ("no_shoes", "no_bio"):
        assert header(waterfall_run, name) == header(waterfall_run, name, test=True) == BASIC
    for name in ("no_offers", "no_wishlist", "new_stars"):
        assert header(waterfall_run, name) == header(waterfall_run, name, test=True) == WITH_TARGET
    raw = (waterfall_run.run_dir / f"no-shoes-new-user-{STAMP}.csv").read_bytes()
    assert b'"a,""b""\r\nc"' in raw and raw.endswith(b"\r\n")
    for entry in waterfall_run.manifest.outputs:
        assert entry.status == "written" and len(entry.sha256) == 64


def test_same_as_of_gives_byte_identical_files(
    waterfall_db: dict[str, str], waterfall_run: Any, tmp_path: Path
) -> None:
    again = run_audience(waterfall_db["dsn"], "layer5_new_user_waterfall", AS_OF, tmp_path)
    digests = lambda r: sorted((o.file, o.sha256) for o in r.manifest.outputs)  # noqa: E731
    assert digests(again) == digests(waterfall_run)


def test_narrow_window_writes_only_non_empty_levels(waterfall_db: dict[str, str], tmp_path: Path) -> None:
    """--var max_days=1: [as_of - 24h, as_of - 12h] holds n1_edge_new (-12h) and n4_recent (-20h) only."""
    ids = waterfall_db
    result = run_audience(ids["dsn"], "layer5_new_user_waterfall", AS_OF, tmp_path, max_days=1)
    assert result.status == "succeeded"
    assert sorted(p.name for p in result.run_dir.glob("*.csv")) == sorted(
        f"{stem}-new-user-{tag}{STAMP}.csv" for stem in ("no-shoes", "no-wishlist") for tag in ("", "test-")
    )
    assert read_csv(result, "no_shoes") == [basic(ids["n1_edge_new"], "n1_edge_new", "N1_edge_new", 1)]
    assert read_csv(result, "no_wishlist") == [
        targeted(ids["n4_recent"], "n4_recent", "N4_recent", 4, "Shoe G", ids["vG"])
    ]
    assert read_csv(result, "no_bio") is None and read_csv(result, "new_stars", test=True) is None
    assert [(lv["count"], lv["remaining_after"]) for lv in result.manifest.metrics["levels"]] == [
        (1, 1),
        (0, 1),
        (0, 1),
        (1, 0),
        (0, 0),
    ]
    assert result.manifest.params == {"min_hours": 12, "max_days": 1}


def test_no_new_users_writes_no_files(waterfall_db: dict[str, str], tmp_path: Path) -> None:
    """[as_of - 24h, as_of - 23h] holds nobody."""
    result = run_audience(waterfall_db["dsn"], "layer5_new_user_waterfall", AS_OF, tmp_path, max_days=1, min_hours=23)
    assert result.status == "empty"
    assert list(result.run_dir.glob("*.csv")) == []
