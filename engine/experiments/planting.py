"""Planting a known effect (``engine seed --plant-conversions``): app rows that make an automation's holdout
convert at ``base_rate`` and its treated users at ``base_rate + uplift``, so ``engine impact`` can be checked
against the truth.

Who converts is a hash draw per (conversion, send, user) (``engine.push.arms.unit``), never ``random()``: the
same ledger plants the same rows. With a ``seed`` the send is named by the seed and its place among the
automation's sends instead of its random id, so the same users sent the same way draw the same converters
whatever the send ids (a test can then check one fixed draw, not a 95 % chance). Each converter gets one row
inside their window, at a hashed point of ``(attributed, attributed + within]`` (of the part already past, when
the window is still open); and a hashed fifth of all users get two decoys that must not count: one before
their push, one after their window.
The attribution times are the measurement's own (``engine.experiments.measure.read_ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from engine.appdb.plant import plant_rows
from engine.appdb.seed import refuse_unless_synthetic
from engine.config import Settings
from engine.db import connect
from engine.errors import ConfigError
from engine.experiments.measure import attributed_at, read_ledger
from engine.push.arms import unit
from engine.schedules.loader import load_schedules

DECOY_SHARE = 0.2  # of all users, with one row before the push and one after the window
DECOY_GAP = timedelta(minutes=30)  # how far before the push / after the window a decoy lands
_TICK = timedelta(microseconds=1)  # PostgreSQL's resolution


@dataclass(frozen=True)
class Planted:
    """What was planted: per arm, users and converters drawn; decoy rows written."""

    automation_id: str
    conversion: str
    sends: int
    treated: int
    treated_converted: int
    held_out: int
    held_out_converted: int
    decoys: int
    rows: int  # app rows written (converters and decoys)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def plant_conversions(
    settings: Settings,
    automation_id: str,
    *,
    uplift: float,
    base_rate: float = 0.10,
    conversion: str | None = None,
    dsn: str | None = None,
    now: datetime | None = None,
    seed: int | None = None,
) -> Planted:
    """Plant conversion ``conversion`` (default: the automation's first) for every live send of the automation,
    in the app database ``dsn`` (default the source DSN: a development database); ``seed`` fixes the draw."""
    if not (0 <= base_rate <= 1 and 0 <= base_rate + uplift <= 1):
        raise ConfigError(
            f"base rate {base_rate} with uplift {uplift} is not a pair of rates in [0, 1]",
            hint="e.g. --base-rate 0.10 --uplift 0.05",
        )
    automation = load_schedules(settings.project_dir).automation(automation_id)
    if automation is None:
        raise ConfigError(f"no automation {automation_id!r} in schedules.yaml", hint="`engine status` lists them")
    declared = {c.name: c for c in automation.conversions}
    name = conversion or next(iter(declared), None)
    if name is None or name not in declared:
        raise ConfigError(
            f"automation {automation_id!r} declares no conversion {name or ''!r}".replace(" ''", ""),
            hint=f"declared: {', '.join(declared) or 'none'} (conversions: [{{name: created_offer, within: 24h}}])",
        )
    within = declared[name].within
    moment = now or datetime.now(timezone.utc)
    ledger = read_ledger(settings, automation_id, since=None)
    try:
        arms = ledger.duck.execute(
            "SELECT send_id, user_id, arm, attributed FROM arms ORDER BY send_id, user_id"
        ).fetchall()
    finally:
        ledger.close()
    rows: list[tuple[str, datetime]] = []
    counts = {"t": [0, 0], "h": [0, 0]}
    decoys = 0
    # the sends come in order of their runs' send times: a seeded key is stable as later sends are added
    keys = {
        s.send_id: s.send_id if seed is None else f"seed-{seed}:{automation_id}:{i}" for i, s in enumerate(ledger.sends)
    }
    for send_id, user_id, arm, at_us in arms:
        at = attributed_at(at_us)
        rate = base_rate + uplift if arm == "t" else base_rate
        counts[arm][0] += 1
        key = keys[send_id]
        if unit(f"plant:{name}:{key}", user_id) < rate:
            counts[arm][1] += 1
            # never later than now: a measurement right after planting sees every planted conversion
            span = min(within, max(moment - at, 2 * _TICK))
            offset = span * (0.05 + 0.9 * unit(f"plant-at:{name}:{key}", user_id))
            rows.append((user_id, at + max(offset, _TICK)))  # strictly after the attribution time
        if name != "active_again" and unit(f"plant-decoy:{name}:{key}", user_id) < DECOY_SHARE:
            decoys += 2
            rows.append((user_id, at - DECOY_GAP))  # before the push
            rows.append((user_id, at + within + DECOY_GAP))  # after the window
    with connect(dsn or settings.require_source_dsn(), retries=settings.connect_retries, statement_timeout_s=0) as conn:
        refuse_unless_synthetic(conn)
        written = plant_rows(conn, name, rows)
        conn.commit()
    return Planted(
        automation_id=automation_id,
        conversion=name,
        sends=len(ledger.sends),
        treated=counts["t"][0],
        treated_converted=counts["t"][1],
        held_out=counts["h"][0],
        held_out_converted=counts["h"][1],
        decoys=decoys,
        rows=written,
    )
