"""Cadence: never over-message a user. (Interface fixed here; implemented by the Cadence issue.)

``filter_audience`` decides, for a whole audience at once, who may receive a live push
of a layer at ``as_of``; every excluded user is attributed to the rule that excluded them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence


@dataclass(frozen=True)
class CadenceDecision:
    eligible: list[str]
    excluded: dict[str, list[str]] = field(default_factory=dict)   # rule name -> user ids
    invalid_ids: list[str] = field(default_factory=list)            # not valid UUIDs
    mode: str = "builtin"                                           # builtin | remote | bypass
    failed_open: bool = False
    warnings: list[str] = field(default_factory=list)


def filter_audience(settings: object, user_ids: Sequence[str], layer_id: int, as_of: datetime,
                    *, state_conn: object = None, automation: str | None = None) -> CadenceDecision:
    raise NotImplementedError("implemented by the Cadence issue")
