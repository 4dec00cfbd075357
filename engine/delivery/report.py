"""The structured result of a send: counts at every step, what happened now and what is left."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from engine.delivery.ledger import IN_FLIGHT_UNKNOWN, Tally
from engine.delivery.plan import CADENCE_PREFIX, NO_TOKEN

# status -> process exit code: finished as asked (0) or something is left to resume (1)
_EXIT = {"completed": 0, "limited": 0, "empty": 0, "dry_run": 0, "partial": 1, "interrupted": 1, "aborted": 1}


@dataclass(frozen=True)
class SendReport:
    """Counts are for the whole send (every run of it) unless named ``*_now``."""

    send_id: str
    status: str                  # completed | limited | partial | interrupted | aborted | empty | dry_run
    mode: str                    # live | test | adhoc
    layer: int
    template: str | None
    source: str
    as_of: datetime
    resumed: bool
    total_rows: int              # data rows in the CSV
    duplicates: int              # repeated user rows (the first one is used)
    empty_ids: int
    invalid_ids: int
    skipped: dict[str, int]      # reason -> users (template values, test filter, dead/duplicate tokens)
    no_token: int
    cadence_excluded: dict[str, int]   # rule -> users
    cadence: dict[str, Any]
    targeted: int                # users with a push to send after every filter
    sent: int
    failed: dict[str, int]       # FCM error code -> users
    remaining: int               # pending or failed-but-retryable: what running the same send again sends
    in_flight_unknown: int       # handed to FCM by an attempt that died before the answer was recorded
    sent_now: int = 0
    retried_now: int = 0
    dead_tokens_now: int = 0
    batches_now: tuple[int, ...] = ()     # sizes of the batches committed now, in commit order
    message: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return _EXIT[self.status]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["warnings"] = list(self.warnings)
        out["batches_now"] = list(self.batches_now)
        out["ok"] = self.exit_code == 0
        return out


@dataclass(frozen=True)
class Counts:
    """The report's count fields, taken from a ledger tally and the plan summary."""

    total_rows: int
    duplicates: int
    empty_ids: int
    invalid_ids: int
    skipped: dict[str, int]
    no_token: int
    cadence_excluded: dict[str, int]
    cadence: dict[str, Any]
    targeted: int
    sent: int
    failed: dict[str, int]
    remaining: int
    in_flight_unknown: int

    @classmethod
    def of(cls, tally: Tally, summary: dict[str, Any]) -> "Counts":
        skipped = tally.reasons("skipped")
        failed = tally.reasons("failed")
        invalid = skipped.pop("invalid_user_id", 0)
        no_token = skipped.pop(NO_TOKEN, 0)
        cadence = {reason.removeprefix(CADENCE_PREFIX): skipped.pop(reason)
                   for reason in sorted(skipped) if reason.startswith(CADENCE_PREFIX)}
        retryable = sum(tally.reasons("failed", retryable=True).values())
        return cls(
            total_rows=summary.get("total_rows", 0), duplicates=summary.get("duplicates", 0),
            empty_ids=summary.get("empty_ids", 0), invalid_ids=summary.get("invalid_ids", 0) + invalid,
            skipped=skipped, no_token=no_token, cadence_excluded=cadence, cadence=summary.get("cadence", {}),
            targeted=sum(tally.count(s) for s in ("pending", "in_flight", "sent", "failed")),
            sent=tally.count("sent"), failed=failed,
            remaining=tally.count("pending") + tally.count("in_flight") + retryable,
            in_flight_unknown=failed.get(IN_FLIGHT_UNKNOWN, 0) + tally.count("in_flight"))

    def fields(self) -> dict[str, Any]:
        return asdict(self)
