"""Which arm of an experiment a user is in: held out or treated, and which copy variant a treated user gets.

Both are a deterministic hash of (salt, user id), never a random draw: the same user lands in the same
arm on every run, on every replica and whatever the audience's size, so a holdout group is a standing
control group and a resumed send re-derives exactly what its first attempt froze. The salt separates
experiments: an automation's holdout is salted with its id (by default), the global holdout with one
project-wide salt, a push's variants with the push's name, so the arms of different experiments are
independent of each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

HELD_OUT_PREFIX = "held_out:"  # a ledger row's reason for a held-out user: held_out:automation, held_out:global
GLOBAL_SALT = "global-holdout"
_SCALE = float(2**64)


class HoldoutScope(StrEnum):
    """An automation's own control group, or the project's standing one that no automation pushes."""

    AUTOMATION = "automation"
    GLOBAL = "global"


@dataclass(frozen=True)
class HoldoutGroup:
    """``percent`` % of all users, chosen by the hash of (``salt``, user id): held out of a live send."""

    scope: HoldoutScope
    percent: float
    salt: str

    @property
    def reason(self) -> str:
        return HELD_OUT_PREFIX + self.scope.value

    def holds(self, user_id: str) -> bool:
        return unit(self.salt, user_id) * 100.0 < self.percent

    def as_json(self) -> dict[str, object]:
        return {"scope": self.scope.value, "percent": self.percent, "salt": self.salt}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> HoldoutGroup:
        return cls(scope=HoldoutScope(str(data["scope"])), percent=float(str(data["percent"])), salt=str(data["salt"]))


def unit(salt: str, user_id: str) -> float:
    """A number in [0, 1) that only (salt, user id) decides: the first 64 bits of their SHA-256.

    The id is the canonical (lower-case) user id the ledger stores, so the CSV's spelling does not matter."""
    digest = hashlib.sha256(f"{salt}\x1f{user_id.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def held_out_by(groups: Sequence[HoldoutGroup], user_id: str) -> HoldoutGroup | None:
    """The first group that holds ``user_id`` out (the global group comes first), or None: treated."""
    return next((group for group in groups if group.holds(user_id)), None)


def pick(salt: str, user_id: str, weights: Sequence[float]) -> int:
    """The index of the weighted choice for ``user_id``: index i with probability weights[i] / sum(weights)."""
    point = unit(salt, user_id) * sum(weights)
    total = 0.0
    for index, weight in enumerate(weights):
        total += weight
        if point < total:
            return index
    return len(weights) - 1  # rounding at the very top of the range
