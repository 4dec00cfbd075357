"""Library entry points. The CLI, the demo, the benchmarks and the scheduler call these."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from engine.cadence import (
    CadenceConfig,
    CadenceDecision,
    Layer,
    effective_config,
    filter_audience,
)
from engine.cadence.userids import read_user_ids_csv
from engine.concurrency import run_concurrently
from engine.config import Settings
from engine.db import SourcePool, connect, connect_source, create_database_if_missing, role_check
from engine.delivery.pacing import RetryPolicy
from engine.delivery.report import SendReport, SendStatus
from engine.delivery.request import SendRequest
from engine.delivery.shard import Shard as Shard  # the CLI parses --shard with it
from engine.errors import StateError
from engine.logs import log_context
from engine.outputs.names import check_output_names
from engine.pipeline import RunRequest, render_queries, run_audience, run_dir_for
from engine.push.arms import HoldoutGroup
from engine.push.template import PushTemplate, TemplateError, adhoc_template
from engine.render.literals import compiled
from engine.render.locate import locator
from engine.report import after_automation_run, after_run, after_send
from engine.runs.model import RunResult
from engine.schedules.loader import load_schedules
from engine.schedules.templates import load_template
from engine.selection import select_audiences
from engine.spec.loader import load_audience, load_project_audiences, named_audience_files
from engine.spec.model import AudienceSpec
from engine.spec.params import resolve_params
from engine.state.migrate import current_version, migrate
from engine.state.recorder import RunRecorder
from engine.timeutil import file_timestamp, utcnow

if TYPE_CHECKING:
    from engine.automations.model import ControlResult, SchedulerStatus
    from engine.automations.overview import PlannedRun
    from engine.state.config_errors import ConfigErrorRow

if TYPE_CHECKING:
    from engine.catalog.model import CatalogPull
    from engine.delivery.session import SendSession
    from engine.experiments.report import ImpactReport
    from engine.validate.findings import ValidationReport

log = logging.getLogger("engine.api")


def migrate_state(settings: Settings) -> tuple[list[str], int, bool]:
    """Create the state database when missing (as ``seed`` does), apply pending migrations; return
    (applied names, current version, whether the database was created)."""
    from engine.automations.queue_schema import ensure_queue_schema  # noqa: PLC0415

    dsn = settings.require_state_dsn()
    created = create_database_if_missing(dsn, retries=settings.connect_retries)
    with connect(dsn, retries=settings.connect_retries) as conn:
        applied = [f"{m.version:04d}_{m.name}" for m in migrate(conn)]
        return applied + ensure_queue_schema(conn), current_version(conn), created


def seed_app_database(
    settings: Settings, *, users: int, seed: int, as_of: datetime, replace: bool = False
) -> dict[str, Any]:
    """Create the source DSN's database if missing, fill it with synthetic data, and give the test users
    (TEST sends' recipients, default the founder) an account and a device token."""
    from engine.appdb.seed import add_test_users, seed_database  # noqa: PLC0415  (heavy SQL loaded on demand)

    started = time.perf_counter()
    dsn = settings.require_source_dsn()
    created = create_database_if_missing(dsn, retries=settings.connect_retries)
    with connect(dsn, retries=settings.connect_retries, statement_timeout_s=0) as conn:
        counts = seed_database(conn, users=users, seed=seed, as_of=as_of, replace=replace)
        test_users = add_test_users(conn, settings.test_users, as_of=as_of)
        conn.commit()
    return {
        "users": users,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "created_database": created,
        "test_users": test_users,
        "seconds": time.perf_counter() - started,
        "counts": counts,
    }


def send(
    settings: Settings,
    request: SendRequest,
    *,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    retry: RetryPolicy | None = None,
    session: SendSession | None = None,
) -> SendReport:
    """Send one push to one audience exactly once, or resume it, or dry-run it (``engine send``).

    The push is ``request.template`` from schedules.yaml, or the ad hoc title/body/link/layer.
    ``stop`` (set from a signal handler) ends the send cleanly; ``on_progress(done, total)``
    follows it. ``session`` (``send_session``) carries the source pool and FCM client that several
    sends share; without it the send opens its own. Raises EngineError subclasses for bad input
    (nothing sent); everything else, including interruptions and pushes in doubt, is in the report's status.
    """
    from engine.delivery.api import DEFAULT_RETRY, deliver  # noqa: PLC0415  (firebase-admin loads on demand)

    if request.holdouts is None and request.automation and not request.test:
        request = replace(request, holdouts=_holdouts(settings, request.automation))
    report = deliver(
        settings,
        request,
        push_template(settings, request),
        retry=retry or DEFAULT_RETRY,
        stop=stop,
        on_progress=on_progress,
        session=session,
    )
    if report.status is not SendStatus.DRY_RUN:
        after_send(settings, report.source)  # the run's report.html now shows this send's funnel
    return report


def _holdouts(settings: Settings, automation_id: str) -> tuple[HoldoutGroup, ...]:
    """The groups schedules.yaml holds out of ``automation_id``'s live sends now (none: not an automation)."""
    schedules = load_schedules(settings.project_dir)
    automation = schedules.automation(automation_id)
    return schedules.holdouts(automation) if automation else ()


def send_session(settings: Settings, *, live: bool) -> AbstractContextManager[SendSession]:
    """One source pool and FCM client for several sends (an automation run's pushes, one after the other at T),
    opened now: the source role checked (``live``: refused if it can write) and the OAuth token fetched."""
    from engine.delivery.session import open_session  # noqa: PLC0415  (google-auth and httpx load on demand)

    return open_session(settings, live=live)


def push_template(settings: Settings, request: SendRequest) -> PushTemplate:
    """The push a send uses: a schedules.yaml template by name, or the request's ad hoc push."""
    if request.template and request.adhoc:
        raise TemplateError("give either a template name or an ad hoc --title/--body/--deep-link/--layer, not both")
    if request.push is not None:
        return request.push
    if request.template:
        return load_template(settings.project_dir, request.template)
    return adhoc_template(title=request.title, body=request.body, deep_link=request.deep_link, layer=request.layer)


@dataclass(frozen=True)
class CadenceCheck:
    """What ``cadence_check`` decided, with the rules and layer it decided by."""

    config: CadenceConfig
    layer: Layer
    decision: CadenceDecision


def cadence_check(
    settings: Settings, user_ids: Sequence[str], layer: int | str, *, as_of: datetime, automation: str | None = None
) -> CadenceCheck:
    """Who among ``user_ids`` may get a live push of ``layer`` at ``as_of`` (reads only; ``engine cadence check``)."""
    config = effective_config(settings.project_dir, automation)
    found = config.layer(layer)
    return CadenceCheck(config, found, filter_audience(settings, user_ids, found.id, as_of, config=config))


def read_user_ids(path: Path) -> list[str]:
    """User ids from a CSV (the original's id column preference), for ``cadence_check``."""
    return read_user_ids_csv(path)


def cadence_rules(settings: Settings, automation: str | None = None) -> CadenceConfig:
    """The layers and cadence rules in force, with ``automation``'s overrides (``engine cadence rules``)."""
    return effective_config(settings.project_dir, automation)


def validate(
    settings: Settings, *, select: Sequence[str] = (), db: bool = False, cache: bool = True, strict: bool = False
) -> ValidationReport:
    """Check the project (or the ``select``ed part) and return every finding; problems in it never raise.

    ``strict`` reports style-only lint rules as errors (they are warnings otherwise)."""
    from engine.validate.runner import validate_project  # noqa: PLC0415  (sqlfluff loads on demand)

    return validate_project(settings, select=select, db=db, cache=cache, strict=strict)


def pull_catalog(settings: Settings, *, schema: str = "public", all_tables: bool = False) -> "CatalogPull":
    """Write catalog/source.yaml from the source database (read-only): the tables of ``schema`` the project's
    audience SQL reads, or all of them, each with every column and its type (``engine catalog pull``)."""
    from engine.catalog.introspect import read_schema  # noqa: PLC0415
    from engine.catalog.model import CatalogPull  # noqa: PLC0415
    from engine.catalog.store import CATALOG_FILE, dump_catalog  # noqa: PLC0415
    from engine.outputs.atomic import write_atomic  # noqa: PLC0415
    from engine.validate.catalog import project_tables  # noqa: PLC0415

    read = None if all_tables else {name for s, name in project_tables(settings.project_dir) if s in (None, schema)}
    with connect_source(settings) as conn:
        catalog = read_schema(conn, schema, read)
    path = settings.project_dir / CATALOG_FILE
    text = dump_catalog(catalog)
    changed = not path.exists() or path.read_text(encoding="utf-8") != text
    if changed:
        write_atomic(path, text.encode("utf-8"))
    return CatalogPull(
        str(CATALOG_FILE),
        schema,
        len(catalog.tables),
        sum(map(len, catalog.tables.values())),
        changed,
        tuple(sorted((read or set()) - set(catalog.tables))),
    )


def list_audiences(settings: Settings, selectors: Sequence[str] = ()) -> list[AudienceSpec]:
    """Load (and validate) the project's audiences, filtered by ``--select`` expressions.

    Selecting by name loads just those files (an audience's name is its file name, which
    validation enforces): one audience's run neither waits for nor fails on the others'
    files. ``layer:``/``tag:`` selectors, and names without exactly one file, load them all.
    """
    named = named_audience_files(settings.project_dir, selectors)
    if named is not None:
        return [load_audience(path, settings.project_dir) for path in named]
    return select_audiences(load_project_audiences(settings.project_dir), selectors)


def compile_audience(settings: Settings, name: str, *, as_of: datetime, variables: Mapping[str, Any] | None = None):
    """Each query of one audience rendered without a database (arrays bound empty), with its values
    written in as literals: ``engine compile``. Checked as a run checks it (one SELECT, values in code,
    no refused function); a refused query is a RenderError at its ``.sql`` line."""
    spec = select_audiences(load_project_audiences(settings.project_dir), [name])[0]
    params = resolve_params(spec, ("--var", dict(variables or {})))
    place = locator(settings.project_dir / "sql")
    rendered = render_queries(settings, spec, {"as_of": as_of, **params})
    return spec, [compiled(query, place) for query in rendered]


def test(settings: Settings, selectors: Sequence[str] = (), *, on_result: Any = None) -> list[Any]:
    """Run the YAML test cases of the selected audiences (``engine.cases``) in a throwaway database."""
    from engine.cases.loader import load_cases  # noqa: PLC0415
    from engine.cases.runner import run_cases  # noqa: PLC0415

    specs = load_project_audiences(settings.project_dir)
    chosen = {s.name for s in select_audiences(specs, selectors)}
    cases = [c for c in load_cases(settings.project_dir, specs) if c.audience in chosen]
    return run_cases(
        settings, cases, specs, admin_dsn=settings.test_dsn, run=run, on_result=on_result or (lambda _: None)
    )


def split_runnable(
    settings: Settings,
    selectors: Sequence[str] = (),
    *,
    variables: Mapping[str, Any] | None = None,
    schedule_vars: Mapping[str, Any] | None = None,
) -> tuple[list[AudienceSpec], dict[str, str]]:
    """The selected audiences that have every param they need, and the others with the reason they cannot run."""
    given = set(variables or {}) | set(schedule_vars or {})
    ready: list[AudienceSpec] = []
    skipped: dict[str, str] = {}
    for spec in list_audiences(settings, selectors):
        missing = [p.name for p in spec.params if p.default is None and p.name not in given]
        if missing:
            skipped[spec.name] = f"needs param(s) {', '.join(missing)} (no default): " + " ".join(
                f"--var {m}=..." for m in missing
            )
        else:
            ready.append(spec)
    return ready, skipped


def diff(settings: Settings, a: str, b: str, *, key: str | None = None) -> Any:
    """Compare two runs (ids under the output root) or folders of CSVs (``engine.compare``; a DiffReport)."""
    from engine.compare.compare import diff_runs  # noqa: PLC0415

    return diff_runs(a, b, output_root=settings.resolved_output_dir, key=key)


def run(
    settings: Settings,
    *,
    selectors: Sequence[str] = (),
    as_of: datetime,
    variables: Mapping[str, Any] | None = None,
    schedule_vars: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    preview_rows: int = 0,
    record: bool | None = None,
    strict: bool | None = None,
    run_id: str | None = None,
    automation: str | None = None,
) -> list[RunResult]:
    """Run the selected audiences against the source database; record runs in state when configured.

    ``variables`` (from ``--var``) override ``schedule_vars``, which override the YAML defaults;
    a ``--var`` naming a param that a selected audience lacks is ignored for that audience
    when several audiences run, and an error when exactly one does (``strict`` overrides that).
    ``run_id`` names the run folder of a single audience (the scheduler records it before the run starts);
    ``automation`` labels its metrics and alerts with the automation that scheduled it.
    """
    specs = list_audiences(settings, selectors)
    strict = len(specs) == 1 if strict is None else strict
    record = (settings.state_dsn is not None and not dry_run) if record is None else record
    requests = []
    for spec in specs:  # resolve every audience's params first: a bad --var fails before any query runs
        overrides = [("schedules.yaml vars", dict(schedule_vars or {})), ("--var", dict(variables or {}))]
        if not strict:
            overrides = [(origin, {k: v for k, v in vals.items() if spec.param(k)}) for origin, vals in overrides]
        request = RunRequest(
            spec=spec,
            as_of=as_of,
            params=resolve_params(spec, *overrides, strict=strict),
            dry_run=dry_run,
            preview_rows=preview_rows,
            **({"run_id": run_id} if run_id and strict else {}),
        )
        check_output_names(
            spec,
            file_timestamp(as_of, settings.timezone),
            request.params,
            run_dir_for(settings, spec, as_of, request.run_id),
        )
        requests.append(request)
    unrecorded: list[StateError] = []

    def one(pool: SourcePool, request: RunRequest) -> RunResult:
        with log_context(run_id=request.run_id, audience=request.spec.name):
            # recorded before it starts, under a lock: a killed process leaves a row shown as 'abandoned'
            recorder = (
                RunRecorder.start(
                    settings,
                    run_id=request.run_id,
                    audience=request.spec.name,
                    params=dict(request.params),
                    as_of=as_of,
                    run_dir=str(run_dir_for(settings, request.spec, as_of, request.run_id)),
                )
                if record
                else None
            )
            try:
                result = run_audience(settings, pool, request)
            except BaseException as err:
                if recorder:
                    recorder.fail(f"{type(err).__name__}: {err}")
                raise
            if recorder:
                try:
                    recorder.finish(result.manifest)
                except StateError as err:  # the files are complete: say so, go on with the others
                    log.error("run not recorded", extra={"error": err.message})
                    unrecorded.append(err)
            after_run(settings, result, automation=automation)  # metrics, alerts, report.html next to the manifest
        return result

    with SourcePool(
        settings.require_source_dsn(),
        size=settings.pool_size,
        check=role_check(settings, live=False),
        statement_timeout_s=settings.statement_timeout_s,
        retries=settings.connect_retries,
    ) as pool:
        results = run_concurrently(
            [partial(one, pool, r) for r in requests], width=min(settings.parallel_audiences, settings.pool_size)
        )
    if unrecorded:
        raise (
            unrecorded[0]
            if len(unrecorded) == 1
            else StateError(
                f"{len(unrecorded)} runs could not be recorded in the state database: {unrecorded[0].message}",
                hint=unrecorded[0].hint,
            )
        )
    return results


# --- scheduler (engine.scheduler): control and status, typed for the CLI and the operator page ---


def pause_automation(settings: Settings, automation_id: str, *, reason: str | None = None) -> "ControlResult":
    """Persist a pause: the automation's runs are skipped at their next phase until resumed."""
    from engine.automations.control import set_paused  # noqa: PLC0415

    return set_paused(settings, automation_id, True, reason)


def resume_automation(settings: Settings, automation_id: str) -> "ControlResult":
    """Undo a pause: runs from the next T fire again."""
    from engine.automations.control import set_paused  # noqa: PLC0415

    return set_paused(settings, automation_id, False)


def cancel_run(settings: Settings, run_id: str, *, reason: str | None = None) -> "ControlResult":
    """Cancel an automation run; refused (StateError) once its live send started."""
    from engine.automations.control import cancel  # noqa: PLC0415

    result = cancel(settings, run_id, reason)
    if result.changed and result.run_id:
        after_automation_run(settings, result.run_id)  # the run's report.html says cancelled
    return result


def trigger_automation(
    settings: Settings,
    automation_id: str,
    *,
    test: bool = False,
    at: datetime | None = None,
    now: datetime | None = None,
) -> "ControlResult":
    """An ad hoc run (``test``: the live phase goes to the test users only)."""
    from engine.automations.control import trigger  # noqa: PLC0415

    return trigger(settings, automation_id, test=test, at=at, now=now or utcnow())


def scheduler_status(settings: Settings, *, now: datetime | None = None) -> "SchedulerStatus":
    """Per automation: paused, next T (local and UTC), the run in progress, the last runs."""
    from engine.automations.overview import scheduler_status as status  # noqa: PLC0415

    return status(settings, now=now or utcnow())


def config_error(settings: Settings) -> "ConfigErrorRow | None":
    """The located error of a schedules.yaml the scheduler's replicas could not load (they run the last good one)."""
    from engine.state import config_errors  # noqa: PLC0415
    from engine.state.connection import state_connection  # noqa: PLC0415

    with state_connection(settings) as conn:
        return config_errors.current(conn)


def plan_runs(settings: Settings, *, days: int = 1, now: datetime | None = None) -> list["PlannedRun"]:
    """Every run that will fire in the next ``days`` days, with phase times and expectations from history."""
    from engine.automations.overview import plan_ahead  # noqa: PLC0415

    return plan_ahead(settings, now=now or utcnow(), days=days)


def run_automation(
    settings: Settings,
    automation_id: str,
    *,
    as_of: datetime,
    variables: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    preview_rows: int = 0,
) -> list[RunResult]:
    """Run an automation's audience with its schedules.yaml vars (``--var`` on top)."""
    from engine.automations.control import known_automation  # noqa: PLC0415

    automation = known_automation(settings, automation_id)
    return run(
        settings,
        selectors=[automation.audience],
        as_of=as_of,
        variables=variables,
        schedule_vars=automation.vars,
        dry_run=dry_run,
        preview_rows=preview_rows,
    )


def report(settings: Settings, run_id: str) -> Path:
    """Write (again) the HTML report of a run, found by id in state or under the output dir; returns its path."""
    from engine.report import build_report, find_run_dir  # noqa: PLC0415  (pygal loads on demand)

    return build_report(settings, find_run_dir(settings, run_id))


def report_history(settings: Settings, name: str, *, limit: int = 20) -> Path:
    """Write the history page (audience size, sent, failed over the last runs) of an audience; returns its path."""
    from engine.report import write_history  # noqa: PLC0415

    return write_history(settings, name, limit=limit)


def impact(
    settings: Settings, automation_id: str, *, since: datetime | None, now: datetime | None = None
) -> "ImpactReport":
    """Measure ``automation_id``'s live sends since ``since`` against its holdout for each conversion it declares
    (``engine impact``): store the counts (engine.impact) and return them with rates, uplift, CI and verdict.

    A ConfigError (exit 2) when the automation is unknown or declares no conversions; DatabaseUnavailable (3)
    when the state or app database does not answer."""
    from engine.errors import ConfigError, SourceLocation  # noqa: PLC0415
    from engine.experiments.measure import measure  # noqa: PLC0415  (DuckDB and pyarrow load on demand)
    from engine.experiments.report import build_report  # noqa: PLC0415  (statsmodels loads on demand)

    schedules = load_schedules(settings.project_dir)
    automation = schedules.automation(automation_id)
    if automation is None:
        known = ", ".join(a.id for a in schedules.automations) or "none"
        raise ConfigError(
            f"no automation {automation_id!r} in schedules.yaml",
            location=SourceLocation("schedules.yaml"),
            hint=f"known automations: {known}",
        )
    if not automation.conversions:
        raise ConfigError(
            f"automation {automation_id!r} declares no conversions: nothing to measure",
            location=automation.location or SourceLocation("schedules.yaml"),
            hint="declare what counts, e.g. `conversions: [{name: created_offer, within: 24h}]` on the automation "
            "(SQL in sql/conversions/<name>.sql), and a control group with `holdout: {percent: 10}`",
        )
    moment = now or utcnow()
    rows = measure(settings, automation_id, automation.conversions, since=since, now=moment)
    names = [c.name for c in automation.conversions]
    return build_report(automation_id, rows, conversions=names, since=since, now=moment)
