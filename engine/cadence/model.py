"""What cadence decided for one audience (who may be pushed, who not and why), and the pushes it counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Delivery(StrEnum):
    """engine.user_notifications.delivery: FCM accepted the push, or it was handed over and its answer lost."""

    SENT = "sent"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class SentPush:
    """One push delivered to one user; ``send_key`` identifies the send (e.g. run:push:user)."""

    user_id: str
    layer_id: int
    sent_at: datetime | None  # None: the state database's clock when recorded
    push_title: str | None
    push_body: str | None
    audience_description: str | None
    deep_link: str | None
    send_key: str


@dataclass(frozen=True)
class Exclusion:
    """One excluded user: the first rule that blocked them and the push history behind it."""

    user_id: str
    rule: str
    pushes_in_window: int | None = None  # counted pushes inside the rule's window (builtin)
    last_sent_at: datetime | None = None  # the most recent of them (builtin)


@dataclass(frozen=True)
class CadenceDecision:
    """The outcome of ``filter_audience``.

    ``mode`` is builtin | remote | bypass (test layer) | exempt (layer 1). ``excluded`` maps
    each rule name (``remote`` in remote mode) to the user ids it excluded; ``invalid_ids``
    are inputs that are not UUIDs (excluded too). ``failed_open`` means the remote service
    failed and everyone valid was let through.
    """

    eligible: list[str]
    excluded: dict[str, list[str]] = field(default_factory=dict)  # rule name -> user ids
    invalid_ids: list[str] = field(default_factory=list)  # not valid UUIDs
    mode: str = "builtin"  # builtin | remote | bypass | exempt
    failed_open: bool = False
    warnings: list[str] = field(default_factory=list)
    layer_id: int | None = None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # rules checked, by name
    exclusions: list[Exclusion] = field(default_factory=list)  # per excluded user, for --explain

    @property
    def excluded_count(self) -> int:
        return sum(len(ids) for ids in self.excluded.values())

    def summary(self) -> dict[str, Any]:
        """Counts per rule and flags, JSON-ready: what a run manifest records."""
        return {
            "mode": self.mode,
            "layer_id": self.layer_id,
            "eligible": len(self.eligible),
            "excluded": {rule: len(ids) for rule, ids in self.excluded.items()},
            "excluded_total": self.excluded_count,
            "invalid_ids": list(self.invalid_ids),
            "failed_open": self.failed_open,
            "warnings": list(self.warnings),
            "rules": self.rules,
        }
