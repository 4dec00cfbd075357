"""One step of an automation run, chosen by its persisted status, never ahead of its time.

``advance`` is what every phase job runs: it reads the run, does the work its status calls
for when that phase's time has come (generate at T-lead.generate, TEST at T-lead.test, live
at T-0: its job starts LIVE_EARLY before, sets up and waits; then cleanup), records the
transition before and after, and returns the next step.
Running it twice, or after a replica died mid-phase, is safe: generate reuses the run folder
it froze, sends resume from the delivery ledger under fixed send ids (never a push twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import psycopg

from engine import api
from engine.automations.timeline import (
    ON_TIME,
    PHASE_OF,
    Phase,
    Timeline,
    due_at,
    measure_at,
    run_timeline,
    timeline,
)
from engine.config import Settings
from engine.delivery.model import Outcomes
from engine.delivery.report import IN_DOUBT_EXIT
from engine.delivery.request import SendRequest
from engine.delivery.shard import Shard, shard_count
from engine.errors import EngineError, SendBusy
from engine.observe import hooks
from engine.observe.alerts import Event
from engine.push.template import PushTemplate
from engine.report import after_automation_run, write_report
from engine.runs.model import MANIFEST, Manifest, OutputStatus, read_manifest
from engine.scheduler.definition import LastGood
from engine.schedules.definition import Definition
from engine.schedules.loader import load_schedules
from engine.schedules.model import Automation, ScheduleFile
from engine.state import automation_runs, controls, impact, runs, sends
from engine.state.connection import state_connection
from engine.state.model import CANCELLABLE, AutomationRun, AutomationRunStatus, RunKind

if TYPE_CHECKING:
    from engine.delivery.session import SendSession  # google-auth and httpx load when a send needs them

log = logging.getLogger("engine.scheduler")

MEASURE_RETRY = timedelta(minutes=15)  # a measurement that failed (or found its window open) is tried again, then
# after twice as long each time, until MEASURE_GIVE_UP after the window (then `engine impact` measures it)
MEASURE_GIVE_UP = timedelta(days=7)


@dataclass(frozen=True)
class Next:
    """The step to defer: which phase job, not before ``at``."""

    phase: Phase
    at: datetime


@dataclass(frozen=True)
class ShardJob:
    """One shard of one push's live send, to run as its own job (any worker, in parallel with the others)."""

    push: str
    shard: Shard


@dataclass(frozen=True)
class Fanout:
    """The live send was planned and split: defer these shard jobs; each re-queues the live phase when it
    ends, and the live phase, once no shard is running, sends what is left whole and reports."""

    shards: tuple[ShardJob, ...]


@dataclass(frozen=True)
class PhaseContext:
    settings: Settings
    worker: str
    clock: Callable[[], datetime]
    schedules: ScheduleFile | None = None  # None: read schedules.yaml at every phase (edits apply)
    data_as_of: datetime | None = None  # the audience's as_of; None: the run's T-lead.generate
    # (the demo's data is seeded as of its --as-of)
    last_good: LastGood | None = None  # a replica's: schedules.yaml, or its last good version while broken
    sleep: Callable[[float], None] = time.sleep  # the live phase's wait for T (tests: the injected clock's)

    def definition(self) -> ScheduleFile:
        """schedules.yaml as this phase sees it: the fixed copy, the replica's last good one, or the file."""
        if self.schedules:
            return self.schedules
        return self.last_good.load() if self.last_good else load_schedules(self.settings.project_dir)


def advance(ctx: PhaseContext, run_id: str) -> Next | Fanout | None:
    """Do the run's due step; return the next one (None: the run is over)."""
    with state_connection(ctx.settings) as conn:
        run = automation_runs.get_run(conn, run_id)
        if run is None:
            return None
        if run.status.final:  # the cleanup job queued again for the window's end: the measurement
            return measure(ctx, conn, run)
        schedules = ctx.definition()
        automation = schedules.automation(run.automation_id)
        if automation is None:
            _move(ctx, conn, run, AutomationRunStatus.ABANDONED, "the automation is no longer in schedules.yaml")
            return None
        if run.generate_at is None:  # made without its times (a test, an old row): fixed now, once
            run = automation_runs.plan_times(conn, run.id, timeline(automation, run.send_at).planned()) or run
        line = run_timeline(run, automation) or timeline(automation, run.send_at)
        frozen = _definition(run, schedules, automation)
        phase = PHASE_OF[run.status]
        now = ctx.clock()
        if due_at(phase, line, now) > now:
            return Next(phase, due_at(phase, line, now))
        stop = None if run.status is AutomationRunStatus.SENDING else _stop_reason(conn, automation, run, line, now)
        if stop:
            _move(ctx, conn, run, *stop)
            return None
        step = {Phase.GENERATE: _generate, Phase.TEST: _test, Phase.LIVE: _live, Phase.CLEANUP: _cleanup}[phase]
        try:
            after = step(ctx, conn, frozen, automation, run, line)
            if isinstance(after, (Fanout, Next)):
                return after
        except EngineError as err:
            latest = automation_runs.get_run(conn, run.id)
            if latest and not latest.status.final:
                _move(ctx, conn, latest, AutomationRunStatus.FAILED, f"{phase.value}: {err.message}")
            log.error(
                "automation run failed",
                extra={"run": run.id, "automation": run.automation_id, "phase": phase.value, "error": err.message},
            )
            return None
        if after is None or after.final:
            return None
        return Next(PHASE_OF[after], due_at(PHASE_OF[after], line, ctx.clock()))


def _move(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    run: AutomationRun,
    to: AutomationRunStatus,
    detail: str | None = None,
    expected: frozenset[AutomationRunStatus] | None = None,
    **fields: Any,
) -> AutomationRun | None:
    moved = automation_runs.transition(
        conn, run.id, expected or {run.status}, to, detail=detail, worker=ctx.worker, **fields
    )
    level = logging.ERROR if to in (AutomationRunStatus.FAILED, AutomationRunStatus.BLOCKED) else logging.INFO
    if moved:
        log.log(
            level,
            "automation run %s",
            to.value,
            extra={"run": run.id, "automation": run.automation_id, "status": to.value, "detail": detail},
        )
        alert_on(ctx.settings, moved, detail)
        if moved.status.final:
            after_automation_run(ctx.settings, moved.id)  # report.html shows every phase, the last one too
    return moved


def alert_on(settings: Settings, run: AutomationRun, detail: str | None) -> None:
    """The alert-worthy outcomes (failed, blocked by max_audience_size, missed): webhook and metrics."""
    missed = run.status is AutomationRunStatus.SKIPPED and (detail or "").startswith("missed")
    event = {AutomationRunStatus.FAILED: Event.RUN_FAILED, AutomationRunStatus.BLOCKED: Event.AUDIENCE_BLOCKED}.get(
        run.status, Event.MISSED_RUN if missed else None
    )
    if event is not None:
        hooks.scheduler_event(
            settings,
            event,
            f"automation {run.automation_id} run at {run.send_at:%Y-%m-%d %H:%M} "
            f"UTC {run.status.value}: {detail or ''}",
            run_id=run.id,
            automation=run.automation_id,
            status=run.status.value,
        )


def _stop_reason(
    conn: psycopg.Connection, automation: Automation, run: AutomationRun, line: Timeline, now: datetime
) -> tuple[AutomationRunStatus, str] | None:
    """Control state, checked at every phase: paused, disabled, or too late (missed-run policy)."""
    switch = controls.control(conn, automation.id)
    if switch.paused:
        return AutomationRunStatus.SKIPPED, f"automation paused{': ' + switch.reason if switch.reason else ''}"
    if not automation.enabled:
        return AutomationRunStatus.SKIPPED, "automation disabled in schedules.yaml"
    if run.status is AutomationRunStatus.GENERATED and now > line.test_at + ON_TIME:  # never a compressed window
        window = (line.send_at - line.window_opens_at).total_seconds()
        return AutomationRunStatus.SKIPPED, (
            f"missed: the TEST send was due {line.test_at:%H:%M:%S} UTC and could start only at "
            f"{now:%H:%M:%S}: the planned {window:.0f}s cancellation window could not be kept "
            f"(missed policy {automation.missed_policy.value})"
        )
    if now > line.latest_start:
        late = (now - line.send_at).total_seconds()
        return AutomationRunStatus.SKIPPED, (
            f"missed: {run.status.value} could not go on before "
            f"{line.latest_start:%H:%M:%S} UTC ({late:.0f}s after T-0, missed policy "
            f"{automation.missed_policy.value})"
        )
    return None


def _definition(run: AutomationRun, schedules: ScheduleFile, automation: Automation) -> Definition:
    """What the run sends: the copy generate froze; before generate (and for a run frozen before
    definitions were kept), the automation as the file declares it now."""
    return Definition.from_json(run.definition) if run.definition else Definition.of(schedules, automation)


def _frozen_manifest(conn: psycopg.Connection, run: AutomationRun) -> Manifest | None:
    """The manifest of the audience run this automation run already froze, if that run finished."""
    if not run.audience_run_id:
        return None
    audience_run = runs.get_run(conn, run.audience_run_id)
    if (
        not audience_run
        or not audience_run.run_dir
        or not audience_run.status.ok
        or not (Path(audience_run.run_dir) / MANIFEST).exists()
    ):
        return None
    return read_manifest(Path(audience_run.run_dir))


def _generate(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    definition: Definition,
    automation: Automation,
    run: AutomationRun,
    line: Timeline,
) -> AutomationRunStatus | None:
    if run.status is AutomationRunStatus.SCHEDULED:
        run = _move(ctx, conn, run, AutomationRunStatus.GENERATING) or run
    run = automation_runs.freeze_definition(conn, run.id, definition.as_json(), definition.digest()) or run
    if run.definition:  # a resumed generate keeps what the first attempt froze
        definition = Definition.from_json(run.definition)
    manifest = _frozen_manifest(conn, run)
    if manifest is None:
        audience_run_id = str(uuid.uuid4())  # recorded first: a crash after the run finishes reuses it
        automation_runs.set_audience_run(conn, run.id, audience_run_id)
        [result] = api.run(
            ctx.settings,
            selectors=[definition.audience],
            as_of=ctx.data_as_of or line.generate_at,
            schedule_vars=definition.vars,
            run_id=audience_run_id,
            record=True,
            automation=automation.id,
        )
        manifest = result.manifest
    if not manifest.status.ok:
        raise EngineError(
            f"audience {definition.audience} {manifest.status.value}: "
            f"{'; '.join(manifest.errors) or 'see its manifest'}"
        )
    wanted = {push.output or "" for push in definition.pushes}
    size = sum(o.rows for o in manifest.production_outputs if o.name in wanted)
    recorded = runs.get_run(conn, manifest.run_id)
    moved = _move(
        ctx,
        conn,
        run,
        AutomationRunStatus.GENERATED,
        f"audience {manifest.status.value}: {size} live recipient rows",
        expected=frozenset({AutomationRunStatus.GENERATING}),
        audience_run_id=manifest.run_id,
        run_dir=recorded.run_dir if recorded else None,
        audience_size=size,
        frozen={o.file: o.sha256 for o in manifest.outputs if o.status is OutputStatus.WRITTEN and o.sha256},
    )
    return moved.status if moved else None


def _send_id(run: AutomationRun, push: str, label: str) -> str:
    """The fixed send id of one push of one run (label: test, live or live-test): a retried phase resumes it."""
    return f"{run.id}:{push}:{label}"


def _send_request(
    run: AutomationRun, definition: Definition, push: PushTemplate, *, test: bool, label: str, **options: Any
) -> SendRequest:
    """A send of the frozen ``push`` under the frozen cadence overrides (never the file as it is now)."""
    return SendRequest(
        source=Path(run.run_dir or ""),
        template=push.name,
        push=push,
        test=test,
        send_id=_send_id(run, push.name or "", label),
        automation=run.automation_id,
        cadence_override=definition.cadence or {},
        holdouts=() if test else definition.holdouts,
        **options,
    )


@dataclass(frozen=True)
class _Sent:
    outcomes: Outcomes = Outcomes()
    problems: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()  # pushes whose shards are still sending

    def fields(self) -> dict[str, Any]:
        """The run's count columns (a push in doubt is not failed)."""
        o = self.outcomes
        return {
            "sent": o.sent,
            "failed": o.failed,
            "in_doubt": o.in_doubt,
            "cadence_excluded": o.skipped_by_cadence,
            "held_out": o.held_out,
        }


def _send_all(
    ctx: PhaseContext,
    definition: Definition,
    run: AutomationRun,
    *,
    test: bool,
    label: str,
    session: SendSession | None = None,
) -> _Sent:
    """Each push sent whole (or resumed: after its shards, what they left), in their declared order, through
    ``session`` (opened here when None: set up once, so that the pushes leave back to back)."""
    outcomes = Outcomes()
    problems: list[str] = []
    busy: list[str] = []
    with contextlib.ExitStack() as opened:
        session = session or opened.enter_context(api.send_session(ctx.settings, live=not test))
        for push in definition.pushes:
            try:
                report = api.send(
                    ctx.settings, _send_request(run, definition, push, test=test, label=label), session=session
                )
            except SendBusy:
                busy.append(push.name or "")
                continue
            outcomes += report.outcomes
            if report.exit_code not in (0, IN_DOUBT_EXIT):  # in doubt: finished, counted, never re-sent
                problems.append(f"{push.name}: {report.status} ({report.message})")
    return _Sent(outcomes, tuple(problems), tuple(busy))


def _plan_shards(
    ctx: PhaseContext, definition: Definition, run: AutomationRun, session: SendSession | None
) -> tuple[ShardJob, ...]:
    """Plan every push's live send (ledger frozen, nothing sent: --limit 0) and split the large ones."""
    jobs: list[ShardJob] = []
    for push in definition.pushes:
        request = _send_request(run, definition, push, test=False, label="live", limit=0)
        report = api.send(ctx.settings, request, session=session)
        count = shard_count(
            report.remaining, max_shards=ctx.settings.send_shards, rows_per_shard=ctx.settings.send_shard_rows
        )
        if count > 1:
            jobs += [ShardJob(push.name or "", Shard(k, count)) for k in range(1, count + 1)]
    return tuple(jobs)


def send_shard(ctx: PhaseContext, run_id: str, job: ShardJob) -> None:
    """One shard job: send its range of the push's live send (resumes it; a copy already running: nothing)."""
    with state_connection(ctx.settings) as conn:
        run = automation_runs.get_run(conn, run_id)
    if run is None or run.status is not AutomationRunStatus.SENDING:
        return
    schedules = ctx.definition()
    automation = schedules.automation(run.automation_id)
    if automation is None:
        return
    definition = _definition(run, schedules, automation)
    [push] = [p for p in definition.pushes if p.name == job.push]
    log.info("shard started", extra={"run": run_id, "push": job.push, "shard": str(job.shard), "worker": ctx.worker})
    try:
        report = api.send(ctx.settings, _send_request(run, definition, push, test=False, label="live", shard=job.shard))
    except SendBusy as err:
        log.info(
            "shard already being sent",
            extra={"run": run_id, "push": job.push, "shard": str(job.shard), "detail": err.message},
        )
        return
    except EngineError as err:  # the live phase's final pass retries what is left and reports it
        log.error(
            "shard send failed", extra={"run": run_id, "push": job.push, "shard": str(job.shard), "error": err.message}
        )
        return
    log.info(
        "shard sent",
        extra={
            "run": run_id,
            "push": job.push,
            "shard": str(job.shard),
            "status": report.status.value,
            "sent_now": report.sent_now,
        },
    )


def _test(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    definition: Definition,
    automation: Automation,
    run: AutomationRun,
    line: Timeline,
) -> AutomationRunStatus | None:
    if run.status is AutomationRunStatus.GENERATED:
        run = _move(ctx, conn, run, AutomationRunStatus.TESTING) or run
    result = _send_all(ctx, definition, run, test=True, label="test")
    if result.problems or result.busy:
        raise EngineError(
            "TEST send: " + "; ".join(result.problems or [f"{push}: already running elsewhere" for push in result.busy])
        )
    tested = _move(
        ctx,
        conn,
        run,
        AutomationRunStatus.TESTED,
        f"TEST pushes: {result.outcomes.summary()}",
        expected=frozenset({AutomationRunStatus.TESTING}),
    )
    if tested is None:
        return None
    window = _move(
        ctx,
        conn,
        tested,
        AutomationRunStatus.WINDOW,
        f"cancellation window open until {line.send_at.isoformat()} (`engine cancel {run.id}`)",
    )
    return window.status if window else None


def _check_frozen(run: AutomationRun) -> None:
    for name, digest in run.frozen.items():
        path = Path(run.run_dir or "") / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
        if actual != digest:
            raise EngineError(f"{path} is not the file generate froze (sha256 {actual[:12]}, expected {digest[:12]})")


def _still_sending(conn: psycopg.Connection, definition: Definition, run: AutomationRun) -> list[str]:
    """The pushes whose live send some process (a shard, or a whole-send resume) is sending right now."""
    names = [push.name or "" for push in definition.pushes]
    send_ids = {_send_id(run, name, "live"): name for name in names}
    return [send_ids[send_id] for send_id in sends.sending_now(conn, list(send_ids))]


def _live(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    definition: Definition,
    automation: Automation,
    run: AutomationRun,
    line: Timeline,
) -> AutomationRunStatus | Fanout | None:
    if run.status is AutomationRunStatus.TESTED:
        run = _move(ctx, conn, run, AutomationRunStatus.WINDOW) or run
    if run.status is AutomationRunStatus.WINDOW:
        _check_frozen(run)
        size = run.audience_size or 0
        over = definition.max_audience_size is not None and size > definition.max_audience_size
        test_only = run.kind is RunKind.TRIGGERED_TEST
        with contextlib.ExitStack() as setup:  # the job starts before T: set up now, so that T is spent sending
            session = (
                None if over or size == 0 else setup.enter_context(api.send_session(ctx.settings, live=not test_only))
            )
            at_t = _wait_for_t(ctx, conn, automation, run, line)
            if at_t is None:
                return None
            run = at_t
            if over:
                _move(
                    ctx,
                    conn,
                    run,
                    AutomationRunStatus.BLOCKED,
                    f"audience of {size} is over max_audience_size {definition.max_audience_size}: nothing sent",
                )
                return None
            if size == 0:
                done = _move(
                    ctx,
                    conn,
                    run,
                    AutomationRunStatus.SENT,
                    "empty audience: nothing sent",
                    expected=CANCELLABLE,
                    **_Sent().fields(),
                )
                return done.status if done else None
            started = _move(ctx, conn, run, AutomationRunStatus.SENDING, "live send started (no longer cancellable)")
            if started is None:  # cancelled in the last moment: the cancel won
                return None
            run = started
            if not test_only and ctx.settings.send_shards > 1:
                shards = _plan_shards(ctx, definition, run, session)
                if shards:
                    log.info("live send split into shards", extra={"run": run.id, "shards": len(shards)})
                    return Fanout(shards)
            return _send_live(ctx, conn, definition, run, session)
    if busy := _still_sending(conn, definition, run):  # cheap: reads no CSV, takes no lock
        log.info("live send waits for its shards", extra={"run": run.id, "pushes": busy})
        return None
    return _send_live(ctx, conn, definition, run, None)


def _wait_for_t(
    ctx: PhaseContext, conn: psycopg.Connection, automation: Automation, run: AutomationRun, line: Timeline
) -> AutomationRun | None:
    """Wait until T (the live job starts ``LIVE_EARLY`` before it), then the run as it stands: None when it was
    cancelled, paused or disabled meanwhile (a run is cancellable until T)."""
    wait = (line.send_at - ctx.clock()).total_seconds()
    if wait > 0:
        log.info("live send set up, waiting for T", extra={"run": run.id, "wait_s": round(wait, 3)})
        ctx.sleep(wait)
    latest = automation_runs.get_run(conn, run.id)
    if latest is None or latest.status is not AutomationRunStatus.WINDOW:
        return None  # cancelled while the live job waited: the cancel won
    stop = _stop_reason(conn, automation, latest, line, ctx.clock())
    if stop:
        _move(ctx, conn, latest, *stop)
        return None
    return latest


def _send_live(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    definition: Definition,
    run: AutomationRun,
    session: SendSession | None,
) -> AutomationRunStatus | None:
    """The live send whole (or what its shards left), then the run's totals."""
    test_only = run.kind is RunKind.TRIGGERED_TEST
    label = "live-test" if test_only else "live"
    result = _send_all(ctx, definition, run, test=test_only, label=label, session=session)
    if result.busy:  # shards still sending: the last of them queues this phase again
        log.info("live send waits for its shards", extra={"run": run.id, "pushes": list(result.busy)})
        return None
    if result.problems:
        _move(
            ctx,
            conn,
            run,
            AutomationRunStatus.FAILED,
            "live send: " + "; ".join(result.problems),
            **result.fields(),
        )
        return None
    done = _move(
        ctx,
        conn,
        run,
        AutomationRunStatus.SENT,
        f"live pushes: {result.outcomes.summary()}",
        **result.fields(),
    )
    return done.status if done else None


def _cleanup(
    ctx: PhaseContext,
    conn: psycopg.Connection,
    definition: Definition,
    automation: Automation,
    run: AutomationRun,
    line: Timeline,
) -> AutomationRunStatus | Next | None:
    done = _move(ctx, conn, run, AutomationRunStatus.CLEANED, f"done: {(run.outcomes or Outcomes()).summary()}")
    if done is None:
        return None
    return _measurement_due(done, ctx.clock()) or done.status


def _measure_at(run: AutomationRun) -> datetime | None:
    """When the run's impact can be measured: T plus the longest conversion window it froze; None: nothing to
    measure (no conversion declared, a TEST-only run, or a live send that neither sent nor held anyone out)."""
    if run.kind is RunKind.TRIGGERED_TEST or not run.definition or not ((run.sent or 0) + (run.held_out or 0)):
        return None
    return measure_at(run.send_at, (c.within for c in Definition.from_json(run.definition).conversions))


def _measurement_due(run: AutomationRun, now: datetime) -> Next | None:
    """The cleanup job again when the run's measurement is due (None: it has none)."""
    at = _measure_at(run)
    return None if at is None else Next(Phase.CLEANUP, max(at, now))


def measure(ctx: PhaseContext, conn: psycopg.Connection, run: AutomationRun) -> Next | None:
    """A cleaned run whose longest conversion window has passed: measured once (``api.impact``, which stores
    engine.impact), then its report written again with the impact section. A failure never touches the run: it
    is logged and tried again later (``MEASURE_RETRY``)."""
    at = _measure_at(run) if run.status is AutomationRunStatus.CLEANED else None
    if at is None:
        return None
    now = ctx.clock()
    if at > now:
        return Next(Phase.CLEANUP, at)
    where = {"run": run.id, "automation": run.automation_id}
    try:
        # measured already (`engine impact` after the window, or an earlier job): its report is all that is left
        if not any(row.window_closed for row in impact.of_run(conn, run.id)):
            api.impact(ctx.settings, run.automation_id, since=run.send_at, now=now)
        measured = any(row.window_closed for row in impact.of_run(conn, run.id))
    except Exception as err:  # anything at all: the run is done, its measurement waits for the next try
        log.error("impact not measured: %s", getattr(err, "message", None) or repr(err), extra=where)
    else:
        if measured:
            log.info("impact measured", extra=where)
            if run.run_dir:
                write_report(ctx.settings, Path(run.run_dir))
            return None
        log.info("impact measured with its window still open (the send ended late): measured again", extra=where)
    late = now - at
    if late >= MEASURE_GIVE_UP:
        log.error("impact measurement given up: run `engine impact %s`", run.automation_id, extra=where)
        return None
    return Next(Phase.CLEANUP, now + max(MEASURE_RETRY, late))  # 15 min, then twice as long each time
