"""The structured result of a send: counts at every step, what happened now and what is left."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.delivery.model import IN_DOUBT_EXIT, IN_FLIGHT_UNKNOWN, ItemStatus, Outcomes, PlanSummary, SendStatus, Tally
from engine.delivery.plan import CADENCE_PREFIX, NO_TOKEN
from engine.push.arms import HELD_OUT_PREFIX
from engine.push.preview import PushPreview

if TYPE_CHECKING:  # the sender loads the FCM client (httpx, google-auth); reports are read without it
    from engine.delivery.sender import SenderStats

# SendStatus and IN_DOUBT_EXIT live in engine.delivery.model (the ledger's vocabulary); callers of the report
# keep importing them from here
__all__ = ["IN_DOUBT_EXIT", "Counts", "SendReport", "SendStatus", "message_of", "status_of"]


class _HasOutcomes:
    """The outcome vocabulary over the counts ``SendReport`` and ``Counts`` share (a push in doubt is not failed)."""

    sent: int
    failed: dict[str, int]
    in_flight_unknown: int
    cadence_excluded: dict[str, int]
    held_out: int

    @property
    def refused(self) -> dict[str, int]:
        """FCM's refusals by error code: the failed rows, less those in doubt (IN_FLIGHT_UNKNOWN)."""
        return {code: n for code, n in self.failed.items() if code != IN_FLIGHT_UNKNOWN}

    @property
    def outcomes(self) -> Outcomes:
        return Outcomes.of_counts(
            sent=self.sent,
            failed=self.failed,
            in_doubt=self.in_flight_unknown,
            cadence_excluded=self.cadence_excluded,
            held_out=self.held_out,
        )


@dataclass(frozen=True)
class SendReport(_HasOutcomes):
    """Counts are for the whole send (every run of it) unless named ``*_now``."""

    send_id: str
    status: SendStatus
    mode: str  # live | test | adhoc
    layer: int
    template: str | None
    source: str
    as_of: datetime
    resumed: bool
    total_rows: int  # data rows in the CSV
    duplicates: int  # repeated user rows (the first one is used)
    empty_ids: int
    invalid_ids: int
    skipped: dict[str, int]  # reason -> users (template values, test filter, dead/duplicate tokens)
    no_token: int
    cadence_excluded: dict[str, int]  # rule -> users
    held_out: int  # in a holdout group: passed every filter, never sent (the control group)
    cadence: dict[str, Any]
    targeted: int  # users with a push to send after every filter
    sent: int
    failed: dict[str, int]  # FCM error code -> users
    remaining: int  # pending or failed-but-retryable: what running the same send again sends
    in_flight_unknown: int  # in doubt: handed to FCM by an attempt that died before the answer was recorded
    sent_now: int = 0
    retried_now: int = 0
    dead_tokens_now: int = 0
    commits_now: int = 0  # ledger transactions of this run (answers recorded, pushes claimed)
    max_in_doubt_now: int = 0  # the most pushes claimed and unrecorded at once in this run
    message: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    shard: str | None = None  # "K/N": the counts from targeted on are that shard's rows only
    preview: PushPreview | None = None  # a dry run's rendered samples and badly rendering rows

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["as_of"] = self.as_of.isoformat()
        out["warnings"] = list(self.warnings)
        out["ok"] = self.exit_code == 0
        return out


@dataclass(frozen=True)
class Counts(_HasOutcomes):
    """The report's count fields, taken from a ledger tally and the plan summary."""

    total_rows: int
    duplicates: int
    empty_ids: int
    invalid_ids: int
    skipped: dict[str, int]
    no_token: int
    cadence_excluded: dict[str, int]
    held_out: int
    cadence: dict[str, Any]
    targeted: int
    sent: int
    failed: dict[str, int]
    remaining: int
    in_flight_unknown: int

    @classmethod
    def of(cls, tally: Tally, summary: PlanSummary) -> Counts:
        skipped = tally.reasons(ItemStatus.SKIPPED)
        failed = tally.reasons(ItemStatus.FAILED)
        invalid = skipped.pop("invalid_user_id", 0)
        no_token = skipped.pop(NO_TOKEN, 0)
        cadence = {
            reason.removeprefix(CADENCE_PREFIX): skipped.pop(reason)
            for reason in sorted(skipped)
            if reason.startswith(CADENCE_PREFIX)
        }
        held_out = sum(skipped.pop(reason) for reason in sorted(skipped) if reason.startswith(HELD_OUT_PREFIX))
        retryable = sum(tally.reasons(ItemStatus.FAILED, retryable=True).values())
        return cls(
            total_rows=summary.total_rows,
            duplicates=summary.duplicates,
            empty_ids=summary.empty_ids,
            invalid_ids=summary.invalid_ids + invalid,
            skipped=skipped,
            no_token=no_token,
            cadence_excluded=cadence,
            held_out=held_out,
            cadence=summary.cadence.as_dict(),
            targeted=sum(
                tally.count(s) for s in (ItemStatus.PENDING, ItemStatus.IN_FLIGHT, ItemStatus.SENT, ItemStatus.FAILED)
            ),
            sent=tally.count(ItemStatus.SENT),
            failed=failed,
            remaining=tally.count(ItemStatus.PENDING) + tally.count(ItemStatus.IN_FLIGHT) + retryable,
            in_flight_unknown=failed.get(IN_FLIGHT_UNKNOWN, 0) + tally.count(ItemStatus.IN_FLIGHT),
        )

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def status_of(counts: Counts, stats: SenderStats, *, empty: bool, limited: bool) -> SendStatus:
    """The send's status from what the ledger holds now and what this run did."""
    if empty or counts.total_rows == 0:
        return SendStatus.EMPTY
    if stats.abort:
        return SendStatus.ABORTED
    if stats.interrupted and counts.remaining:
        return SendStatus.INTERRUPTED
    if not counts.remaining:
        return SendStatus.COMPLETED_IN_DOUBT if counts.in_flight_unknown else SendStatus.COMPLETED
    return SendStatus.LIMITED if limited and not stats.retry_later else SendStatus.PARTIAL


def message_of(status: SendStatus, counts: Counts, stats: SenderStats) -> str:
    """One line for people: what happened and what to do next."""
    done = f"{stats.sent} sent now, {counts.sent} of {counts.targeted} sent in total"
    doubt = counts.in_flight_unknown
    return {
        SendStatus.COMPLETED: f"{done}; nothing left to send",
        SendStatus.COMPLETED_IN_DOUBT: f"completed with {doubt} in doubt: {done}; {doubt} push(es) were handed to FCM "
        "by an attempt that died before the answer was recorded, so they may or may not have arrived "
        "(cadence counts them); run again with --resend-in-flight to send them again (at least once)",
        SendStatus.LIMITED: f"{done}; --limit reached, {counts.remaining} left: run the same command to continue",
        SendStatus.PARTIAL: f"{done}; {counts.remaining} failed with retryable errors or are still pending: "
        "run the same command again to retry them",
        SendStatus.INTERRUPTED: f"stopped by a signal: {done}, {counts.remaining} left: resume with the same command",
        SendStatus.ABORTED: f"aborted: {stats.abort}; {done}, {counts.remaining} left: fix the cause, then resume "
        "with the same command",
        SendStatus.EMPTY: "the audience is empty: nothing to send",
        SendStatus.DRY_RUN: f"dry run: {counts.remaining} push(es) would be sent "
        f"({counts.sent} already sent by earlier runs of this send)",
    }[status]
