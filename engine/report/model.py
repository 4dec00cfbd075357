"""What a run report shows, as plain typed values (built by ``collect``, drawn by ``render``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.delivery.model import Outcomes
from engine.experiments.views import ImpactLine, RunConversion
from engine.push.preview import PushPreview


@dataclass(frozen=True)
class FunnelStep:
    """Rows left after one step of the funnel (``removed`` says how many that step took away)."""

    label: str
    rows: int
    kind: str = "step"  # query | step | threshold | output | send
    removed: int | None = None
    note: str = ""


@dataclass(frozen=True)
class SendSummary:
    """One send of one output, as the delivery ledger counts it."""

    send_id: str
    mode: str
    status: str
    template: str | None
    targeted: int
    outcomes: Outcomes
    failed: dict[str, int]  # FCM error code -> users (pushes in doubt are not here: they are not failed)
    skipped: dict[str, int]
    remaining: int

    @property
    def other_skipped(self) -> int:
        """Users skipped for a reason other than cadence or a holdout (no token, test filter, template values...)."""
        return sum(self.skipped.values()) - self.outcomes.skipped_by_cadence - self.outcomes.held_out


@dataclass(frozen=True)
class OutputFunnel:
    output: str
    steps: tuple[FunnelStep, ...]
    sends: tuple[SendSummary, ...] = ()


@dataclass(frozen=True)
class StepTiming:
    step: str
    seconds: float
    rows: int


@dataclass(frozen=True)
class FileEntry:
    name: str
    output: str
    is_test: bool
    rows: int
    sha256: str | None
    status: str
    error: str | None = None


@dataclass(frozen=True)
class Sample:
    """The first rows of one written file: PII masked, formulas neutralised (escaping is the template's)."""

    output: str
    file: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    masked: tuple[str, ...]
    total_rows: int


@dataclass(frozen=True)
class PhaseEntry:
    """One phase transition of an automation run, with its offset from the send time T."""

    status: str
    at: str
    offset: str
    detail: str
    worker: str


@dataclass(frozen=True)
class ImpactSection:
    """An automation run's measured impact: per push and variant, treated against held out, once the longest
    conversion window of its frozen definition has passed (``closed``); before, when it will have."""

    automation: str
    automation_run: str
    conversions: tuple[str, ...]  # "name (within)", as the frozen definition declares them
    closes_at: str  # the live send plus the longest window (UTC, ISO)
    closed: bool
    held_out: int  # users the run held out (0: nothing to compare against)
    lines: tuple[ImpactLine, ...] = ()  # measured with the window closed (nothing while it is open)

    @property
    def measured_at(self) -> str | None:
        stamps = [line.measured_at for line in self.lines if line.measured_at]
        return max(stamps).isoformat(timespec="seconds") if stamps else None


@dataclass(frozen=True)
class Report:
    run_id: str
    audience: str
    status: str
    as_of: str
    params: dict[str, object]
    seconds: float | None
    funnels: tuple[OutputFunnel, ...]
    timings: tuple[StepTiming, ...]
    files: tuple[FileEntry, ...]
    samples: tuple[Sample, ...]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]
    automation: str | None = None
    send_at: str | None = None
    phases: tuple[PhaseEntry, ...] = ()
    changed: tuple[str, ...] = ()  # schedules.yaml against what generate froze (the run sent the frozen copy)
    previous_sizes: tuple[int, ...] = field(default_factory=tuple)
    pushes: tuple[PushPreview, ...] = ()  # per push template of this audience: rendered samples
    outcomes: Outcomes | None = None  # of the automation run, else of the live sends; None: nothing sent
    impact: ImpactSection | None = None  # an automation run that declared conversions and sent

    @property
    def badge(self) -> str:
        """The run's status, unless its outcomes need attention (cancelled, in doubt): then that outcome."""
        attention = self.outcomes.attention if self.outcomes else None
        return attention.label if attention else self.status

    @property
    def audience_size(self) -> int:
        return sum(f.rows for f in self.files if not f.is_test and f.status == "written")


@dataclass(frozen=True)
class HistoryPoint:
    run_id: str
    as_of: str
    status: str
    size: int
    outcomes: Outcomes | None  # None: the run sent nothing (a gap in the chart, not a zero)
    report: str | None


@dataclass(frozen=True)
class ImpactHistory:
    """An automation's measured runs per conversion (treated against held out), oldest first."""

    conversions: tuple[str, ...]
    runs: tuple[RunConversion, ...]
