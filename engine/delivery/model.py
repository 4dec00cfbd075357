"""A send as the ledger records it: frozen, typed rows and the StrEnum statuses of engine.sends and send_items.

The repository ``engine.state.sends`` returns these (psycopg ``class_row``: a field's name is its
column's name; a status arrives as text and becomes its StrEnum in ``__post_init__``). ``PlanSummary``
is the only code that knows the keys of engine.sends.plan, so no reader spells them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

IN_FLIGHT_UNKNOWN = "IN_FLIGHT_UNKNOWN"  # the reason of a failed row whose push may or may not have arrived
IN_DOUBT_EXIT = 4
ALL_ROWS = (0, 2**31 - 1)  # a seq range: the whole send


class SendStatus(StrEnum):
    """How a send ended (engine.sends.status); ``sending`` only while a process holds the send's lock."""

    SENDING = "sending"
    COMPLETED = "completed"  # everyone targeted got their push
    COMPLETED_IN_DOUBT = "completed_in_doubt"  # nothing left to send, but N pushes may or may not have arrived
    LIMITED = "limited"  # --limit reached
    PARTIAL = "partial"  # retryable failures left: run again
    INTERRUPTED = "interrupted"  # SIGTERM/Ctrl-C, or the process died
    ABORTED = "aborted"  # credentials, project, or another fatal error
    EMPTY = "empty"
    DRY_RUN = "dry_run"

    @property
    def exit_code(self) -> int:
        """0 finished as asked, 1 something is left to resume, 4 finished with pushes in doubt."""
        if self is SendStatus.COMPLETED_IN_DOUBT:
            return IN_DOUBT_EXIT
        ok = (SendStatus.COMPLETED, SendStatus.LIMITED, SendStatus.EMPTY, SendStatus.DRY_RUN)
        return 0 if self in ok else 1


class ItemStatus(StrEnum):
    """One (send, user) row: pending -> in_flight -> sent | failed, or skipped at planning."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Outcome(StrEnum):
    """What became of one user of a run: the one vocabulary of the run summary, ``engine status``, the report,
    the operator page, metrics and alerts. A push in doubt is never called failed: FCM may have delivered it."""

    SENT = "sent"
    FAILED = "failed"  # FCM said no
    IN_DOUBT = "in_doubt"  # handed to FCM by an attempt that died before the answer was recorded
    SKIPPED_BY_CADENCE = "skipped_by_cadence"
    HELD_OUT = "held_out"  # in a holdout group: never sent, the control group of ``engine impact``
    CANCELLED = "cancelled"  # the run was cancelled before its live send

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Outcomes:
    """How many users ended in each ``Outcome`` (one send, or a whole run)."""

    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    skipped_by_cadence: int = 0
    held_out: int = 0
    cancelled: int = 0

    @classmethod
    def of_counts(
        cls,
        *,
        sent: int,
        failed: Mapping[str, int],
        in_doubt: int,
        cadence_excluded: Mapping[str, int],
        held_out: int = 0,
    ) -> Outcomes:
        """From a send's counts (``failed``: by reason): a row failed IN_FLIGHT_UNKNOWN is in doubt, not failed."""
        return cls(
            sent=sent,
            failed=sum(failed.values()) - failed.get(IN_FLIGHT_UNKNOWN, 0),
            in_doubt=in_doubt,
            skipped_by_cadence=sum(cadence_excluded.values()),
            held_out=held_out,
        )

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(**{o.value: self.count(o) + other.count(o) for o in Outcome})

    def count(self, outcome: Outcome) -> int:
        return int(getattr(self, outcome.value))

    @property
    def attention(self) -> Outcome | None:
        """The outcome a run's badge shows instead of its status: cancelled, else in doubt, else none."""
        return next((o for o in (Outcome.CANCELLED, Outcome.IN_DOUBT) if self.count(o)), None)

    def as_dict(self) -> dict[str, int]:
        return {o.value: self.count(o) for o in Outcome}

    def summary(self) -> str:
        """``3279 sent, 0 failed, 96 in doubt, ...``: every outcome, always in the same order."""
        return ", ".join(f"{self.count(o)} {o.label}" for o in Outcome)


@dataclass(frozen=True)
class SendRecord:
    """What identifies a send and what it was planned from."""

    send_id: str
    mode: str
    layer_id: int
    source_file: str
    source_sha256: str
    template_sha256: str
    as_of: datetime
    audience_description: str
    run_id: str | None = None
    template: str | None = None
    audience: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class LedgerItem:
    """One (send, user) row."""

    seq: int
    user_id: str
    status: ItemStatus
    reason: str | None = None
    token: str | None = None
    title: str | None = None
    body: str | None = None
    deep_link: str | None = None
    variant: str | None = None  # the push's copy variant this user got (None: the push has none)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ItemStatus(self.status))  # built frozen: its only mutation


@dataclass(frozen=True)
class ItemResult:
    """The final word on one item in one attempt: sent, failed, or back to pending (not sent)."""

    item: LedgerItem
    status: ItemStatus
    code: str | None = None
    message_id: str | None = None
    retryable: bool = False
    dead_token: bool = False


@dataclass(frozen=True)
class TallyRow:
    """How many of a send's rows share (status, reason, retryable)."""

    status: ItemStatus
    reason: str | None
    retryable: bool
    count: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ItemStatus(self.status))  # built frozen: its only mutation


@dataclass(frozen=True)
class Tally:
    """Counts of a send's rows by (status, reason, retryable)."""

    rows: dict[tuple[ItemStatus, str | None, bool], int]

    @classmethod
    def of(cls, rows: list[TallyRow]) -> Tally:
        return cls({(row.status, row.reason, row.retryable): row.count for row in rows})

    def count(self, status: ItemStatus) -> int:
        return sum(n for (s, _, _), n in self.rows.items() if s is status)

    def reasons(self, status: ItemStatus, *, retryable: bool | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for (s, reason, again), n in self.rows.items():
            if s is status and (retryable is None or again == retryable):
                out[reason or ""] = out.get(reason or "", 0) + n
        return out


@dataclass(frozen=True)
class CadenceSummary:
    """How cadence treated the send at planning: its mode (builtin, remote, bypass, not_needed...)."""

    mode: str
    failed_open: bool = False
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "failed_open": self.failed_open, "warnings": list(self.warnings)}


@dataclass(frozen=True)
class PlanSummary:
    """Counts fixed at planning, kept in engine.sends.plan for the reports of every later run of the send."""

    total_rows: int  # data rows in the CSV
    duplicates: int  # repeated user rows (the first one is used)
    empty_ids: int
    invalid_ids: int
    cadence: CadenceSummary

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cadence": self.cadence.as_dict()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanSummary:
        """Also a send planned before a key existed (the column's default is ``{}``): absent counts are 0."""
        cadence = data.get("cadence") or {}
        return cls(
            total_rows=data.get("total_rows", 0),
            duplicates=data.get("duplicates", 0),
            empty_ids=data.get("empty_ids", 0),
            invalid_ids=data.get("invalid_ids", 0),
            cadence=CadenceSummary(
                mode=cadence.get("mode", ""),
                failed_open=cadence.get("failed_open", False),
                warnings=tuple(cadence.get("warnings", ())),
            ),
        )


@dataclass(frozen=True)
class Send:
    """One row of engine.sends: what a send was planned from, its plan summary and its status."""

    send_id: str
    mode: str
    layer_id: int
    source_file: str
    source_sha256: str
    template_sha256: str
    audience_description: str
    as_of: datetime
    plan: PlanSummary
    status: SendStatus
    run_id: str | None = None
    template: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        data: Any = self.plan
        object.__setattr__(self, "status", SendStatus(self.status))  # built frozen: its only mutation
        if isinstance(data, dict):
            object.__setattr__(self, "plan", PlanSummary.from_json(data))


def send_key(send_id: str, user_id: str) -> str:
    """The idempotency key of one (send, user): unique in the ledger and in user_notifications."""
    return f"{send_id}:{user_id}"
