"""Gather a run report's facts: the run folder's manifest, and the state database's sends and history.

The manifest is read through ``engine.runs.model`` (typed, never by key). The state database
is optional: without it (or when it is unreachable) the report shows the run alone and says
why sends are missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from engine.config import Settings
from engine.delivery.model import Outcome, Outcomes
from engine.errors import EngineError
from engine.report import checks
from engine.report.automation import automation_phases
from engine.report.impact import impact_section
from engine.report.model import (
    FileEntry,
    FunnelStep,
    ImpactSection,
    OutputFunnel,
    PhaseEntry,
    Report,
    SendSummary,
    StepTiming,
)
from engine.report.pushes import push_previews
from engine.report.sample import read_sample
from engine.runs.model import Manifest, OutputStatus, read_manifest
from engine.schedules.definition import drift
from engine.schedules.loader import load_schedules
from engine.state import runs, sends
from engine.state.connection import state_connection
from engine.timeutil import utcnow

log = logging.getLogger("engine.report")

HISTORY_RUNS = 5


def _audience_steps(manifest: Manifest) -> list[FunnelStep]:
    """Rows after each query, join, prioritisation, each threshold and the transform."""
    steps: list[FunnelStep] = []
    previous: int | None = None
    for step in manifest.steps:
        if step.step.startswith("load:"):
            steps.append(FunnelStep(f"query {step.step.removeprefix('load:')}", step.rows, "query"))
            continue
        if step.step == "thresholds":
            before = previous if previous is not None else step.rows
            steps += [
                FunnelStep(f"passes {label}", before - count, "threshold", count)
                for label, count in step.removed.items()
            ]
        note = ", ".join(f"{k}: {v:,}" for k, v in step.removed.items()) if step.step == "require" else ""
        steps.append(FunnelStep(step.step, step.rows, "step", None if previous is None else previous - step.rows, note))
        previous = step.rows
    return steps


def _send_steps(output_rows: int, sends: list[SendSummary]) -> list[FunnelStep]:
    """Live sends only: a TEST send goes to the test users, not down the audience's funnel."""
    steps: list[FunnelStep] = []
    for send in (s for s in sends if s.mode != "test"):
        steps += [
            FunnelStep(
                "targeted",
                send.targeted,
                "send",
                output_rows - send.targeted,
                ", ".join(f"{k}: {v:,}" for k, v in send.skipped.items()),
            ),
            FunnelStep(Outcome.SENT.label, send.outcomes.sent, "send"),
            FunnelStep(
                Outcome.FAILED.label,
                send.outcomes.failed,
                "send",
                note=", ".join(f"{k}: {v:,}" for k, v in send.failed.items()),
            ),
            FunnelStep(Outcome.IN_DOUBT.label, send.outcomes.in_doubt, "send"),
            # passed every filter and never sent: the control group (not in "targeted", like cadence's)
            FunnelStep(Outcome.HELD_OUT.label, send.outcomes.held_out, "send"),
        ]
    return steps


def load_sends(conn: psycopg.Connection, run_id: str) -> list[tuple[str | None, SendSummary]]:
    """Every send of a run with the delivery ledger's counts, as (output name, summary)."""
    from engine.delivery.report import Counts  # noqa: PLC0415  (delivery pulls in firebase-admin lazily)

    out = []
    for send in sends.of_run(conn, run_id):
        counts = Counts.of(sends.tally(conn, send.send_id), send.plan)
        skipped = {
            **counts.skipped,
            **({"no token": counts.no_token} if counts.no_token else {}),
            **{f"cadence {k}": v for k, v in counts.cadence_excluded.items()},
            **({Outcome.HELD_OUT.label: counts.held_out} if counts.held_out else {}),
        }
        out.append(
            (
                send.output,
                SendSummary(
                    send_id=send.send_id,
                    mode=send.mode,
                    status=send.status,
                    template=send.template,
                    targeted=counts.targeted,
                    outcomes=counts.outcomes,
                    failed=counts.refused,
                    skipped=skipped,
                    remaining=counts.remaining,
                ),
            )
        )
    return out


def live_outcomes(sends: list[SendSummary]) -> Outcomes | None:
    """What the live sends did to their users, summed; None when the run had no live send."""
    live = [s.outcomes for s in sends if s.mode != "test"]
    return sum(live, Outcomes()) if live else None


def previous_sizes(conn: psycopg.Connection, audience: str, run_id: str, limit: int = HISTORY_RUNS) -> list[int]:
    """Audience sizes (rows of production files) of the last finished runs before this one."""
    return [manifest_size(run.manifest) for run in runs.finished_before(conn, audience, run_id, limit) if run.manifest]


def manifest_size(manifest: Manifest) -> int:
    """Rows of the production files a run wrote."""
    return sum(o.rows for o in manifest.production_outputs if o.status == OutputStatus.WRITTEN)


@dataclass(frozen=True)
class _StateFacts:
    sends: list[tuple[str | None, SendSummary]] = field(default_factory=list)
    previous: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    automation: str | None = None
    send_at: str | None = None
    phases: list[PhaseEntry] = field(default_factory=list)
    outcomes: Outcomes | None = None  # the automation run's
    changed: tuple[str, ...] = ()  # its frozen definition against schedules.yaml as it stands
    impact: ImpactSection | None = None


def _changed(settings: Settings, automation: str | None, frozen: dict[str, Any] | None) -> tuple[str, ...]:
    """What changed in schedules.yaml since generate froze the run (nothing when the file does not load:
    ``engine status`` and the page show that as the config_error)."""
    if automation is None:
        return ()
    try:
        return drift(frozen, automation, load_schedules(settings.project_dir))
    except EngineError:
        return ()


def _state(settings: Settings, run_id: str, audience: str) -> _StateFacts:
    if not settings.state_dsn:
        return _StateFacts()
    try:
        with state_connection(settings, retries=0) as conn:
            automation, send_at, phases, outcomes, frozen = automation_phases(conn, run_id)
            return _StateFacts(
                load_sends(conn, run_id),
                previous_sizes(conn, audience, run_id),
                [],
                automation,
                send_at,
                phases,
                outcomes,
                _changed(settings, automation, frozen),
                impact_section(conn, run_id, utcnow()),
            )
    except (psycopg.Error, EngineError) as err:
        log.warning("report without state: %s", type(err).__name__, extra={"run_id": run_id})
        return _StateFacts(notes=["state database unavailable: send counts and history are not shown"])


def collect(settings: Settings, run_dir: Path) -> Report:
    """Everything the report of the run in ``run_dir`` shows."""
    manifest = read_manifest(run_dir)
    facts = _state(settings, manifest.run_id, manifest.audience)
    sends = facts.sends
    base = _audience_steps(manifest)
    files = tuple(
        FileEntry(
            name=o.file,
            output=o.name,
            is_test=o.is_test,
            rows=o.rows,
            sha256=o.sha256,
            status=o.status.value,
            error=o.error,
        )
        for o in manifest.outputs
    )
    funnels, samples = [], []
    for output in manifest.production_outputs:
        output_sends = [s for name, s in sends if name == output.name]
        label = f"output {output.name}" + (f" (segment {output.segment})" if output.segment else "")
        steps = [*base, FunnelStep(label, output.rows, "output"), *_send_steps(output.rows, output_sends)]
        funnels.append(OutputFunnel(output.name, tuple(steps), tuple(output_sends)))
        if output.status == OutputStatus.WRITTEN and (run_dir / output.file).exists():
            samples.append(
                read_sample(
                    run_dir / output.file,
                    output=output.name,
                    limit=settings.report_sample_rows,
                    total_rows=output.rows,
                    pii=settings.report_pii_columns,
                )
            )
    report = Report(
        run_id=manifest.run_id,
        audience=manifest.audience,
        status=manifest.status.value,
        as_of=manifest.as_of,
        params=dict(manifest.params),
        seconds=manifest.seconds,
        funnels=tuple(funnels),
        timings=tuple(StepTiming(s.step, s.seconds, s.rows) for s in manifest.steps),
        files=files,
        samples=tuple(samples),
        warnings=(),
        errors=manifest.errors,
        previous_sizes=tuple(facts.previous),
        automation=facts.automation,
        send_at=facts.send_at,
        phases=tuple(facts.phases),
        changed=facts.changed,
        pushes=push_previews(settings, run_dir, manifest),
        outcomes=facts.outcomes or live_outcomes([s for _, s in sends]),
        impact=facts.impact,
    )
    return _with_warnings(
        settings, report, [*manifest.warnings, *facts.notes], [s for _, s in sends if s.mode != "test"]
    )


def _with_warnings(settings: Settings, report: Report, given: list[str], live: list[SendSummary]) -> Report:
    found = list(given)
    found.append(checks.size_jump(report.audience_size, report.previous_sizes, pct=settings.report_size_jump_pct) or "")
    found += checks.threshold_drops(
        report.funnels[0].steps if report.funnels else (), pct=settings.report_threshold_drop_pct
    )
    found.append(checks.fcm_error_rate(live, pct=settings.alert_fcm_error_rate_pct) or "")
    found.append(checks.in_doubt(live) or "")
    return replace(report, warnings=tuple(w for w in found if w))
