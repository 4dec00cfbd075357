"""One audience through the stages: params, queries (PostgreSQL), DuckDB shaping, CSVs, manifest.

No business logic lives here: each stage is its own module; this file only chains them
and keeps the per-output failure bookkeeping (a failed output never stops the others,
and nothing half-written is left behind).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import psycopg
import pyarrow as pa

from engine.config import Settings
from engine.db import SourcePool
from engine.errors import EngineError
from engine.outputs.atomic import commit_file, make_dir, remove_stale_temps, sync_dir, temp_path, write_atomic
from engine.outputs.csvfile import encode_csv
from engine.outputs.names import safe_file_name
from engine.outputs.testrows import source_offset, test_rows
from engine.render.env import make_environment, render_sql
from engine.render.locate import locator
from engine.render.model import RenderedQuery
from engine.runs.model import (
    MANIFEST,
    Manifest,
    OutputRecord,
    OutputStatus,
    RunResult,
    RunStatus,
    json_ready,
    manifest_params,
)
from engine.runs.rules import audience_empty, run_status, skip_output
from engine.sources.parallel import snapshot_sharing, waves
from engine.sources.query import Locator, fetch_arrow
from engine.spec.model import AudienceSpec, OutputSpec
from engine.spec.params import bind_numbers
from engine.timeutil import file_timestamp
from engine.transform.duck import Workspace
from engine.transform.sqlparts import literal

log = logging.getLogger("engine.pipeline")


@dataclass(frozen=True)
class RunRequest:
    """Everything that makes a run reproducible: spec, as_of, param overrides."""

    spec: AudienceSpec
    as_of: datetime
    params: Mapping[str, Any]
    dry_run: bool = False
    preview_rows: int = 0
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def render_queries(
    settings: Settings, spec: AudienceSpec, values: Mapping[str, Any], bound: Mapping[str, list[Any]] | None = None
) -> list[RenderedQuery]:
    """Render every query with placeholder arrays (``preview``/``plan`` show these)."""
    env = make_environment(settings.project_dir / "sql")
    out = []
    for query in spec.queries:
        query_values = dict(values)
        for bind in query.binds:
            query_values[bind.param] = list((bound or {}).get(bind.param, []))
        out.append(
            render_sql(
                env,
                settings.project_dir / "sql",
                name=query.name,
                template=query.sql,
                values=query_values,
                options=query.options,
            )
        )
    return out


def _run_queries(
    settings: Settings,
    pool: SourcePool,
    spec: AudienceSpec,
    values: dict[str, Any],
    ws: Workspace,
    rendered_log: list[RenderedQuery],
) -> None:
    env = make_environment(settings.project_dir / "sql")
    place = locator(settings.project_dir / "sql")  # database errors point at the .sql line
    grouped = waves(spec.queries)
    width = min(settings.parallel_queries, max(map(len, grouped), default=1))
    with pool.connection() as conn, snapshot_sharing(pool, conn, width) as shared:
        # one read-only snapshot for every query of the audience: they all see the same moment
        for wave in grouped:
            batch = []
            for query in wave:
                query_values = dict(values)
                for bind in query.binds:
                    query_values[bind.param] = ws.distinct_values(bind.query, bind.column)
                rendered = render_sql(
                    env,
                    settings.project_dir / "sql",
                    name=query.name,
                    template=query.sql,
                    values=query_values,
                    options=query.options,
                )
                rendered_log.append(rendered)
                batch.append(partial(_timed_fetch, spec.name, rendered, place))
            for query, (table, ts_cols) in zip(wave, shared.run_all(batch)):
                ws.load(query.name, table, ts_cols)


def _timed_fetch(
    audience: str,
    rendered: RenderedQuery,
    place: Locator,
    conn: psycopg.Connection,
) -> tuple[pa.Table, tuple[str, ...]]:
    started = time.perf_counter()
    table, ts_cols = fetch_arrow(conn, rendered, place)
    log.info(
        "query done",
        extra={
            "audience": audience,
            "query": rendered.name,
            "rows": table.num_rows,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return table, ts_cols


def _render_transform(settings: Settings, spec: AudienceSpec, values: Mapping[str, Any]) -> str:
    env = make_environment(settings.project_dir / "sql")
    template = env.get_template(spec.transform or "")
    # DuckDB runs locally over already-fetched rows: params appear as escaped literals
    return template.render({k: literal(v if not isinstance(v, datetime) else v.isoformat()) for k, v in values.items()})


def file_name(pattern: str, stamp: str, params: Mapping[str, Any]) -> str:
    """Expand an output file-name pattern: ``{timestamp}`` and params (``{product_id:.8}``), a plain name."""
    return safe_file_name(pattern, stamp, params)


def run_dir_for(settings: Settings, spec: AudienceSpec, as_of: datetime, run_id: str) -> Path:
    stamp = file_timestamp(as_of, settings.timezone)
    return settings.resolved_output_dir / spec.name / f"{stamp}_{run_id[:8]}"


def run_audience(settings: Settings, pool: SourcePool, request: RunRequest) -> RunResult:
    """Run one audience end to end and write its run folder (unless ``dry_run``)."""
    spec = bind_numbers(request.spec, request.params)  # thresholds that name a param get its value
    started = time.perf_counter()
    errors: list[str] = []
    rendered: list[RenderedQuery] = []
    segments: dict[str, int] = {}
    metrics: dict[str, Any] = {}
    run_dir = None if request.dry_run else run_dir_for(settings, spec, request.as_of, request.run_id)
    if run_dir is not None:
        remove_stale_temps(settings.resolved_output_dir)  # what killed runs left behind
    ws = Workspace(allowed_dir=run_dir)  # spec SQL in DuckDB may touch no file outside the run folder
    try:
        try:
            values = {"as_of": request.as_of, **request.params}
            _run_queries(settings, pool, spec, values, ws, rendered)
            ws.build_audience(spec)
            if spec.transform:
                ws.transform(_render_transform(settings, spec, values))
            ws.finish()
            audience_ok = True
        except EngineError as err:
            audience_ok = False
            errors.append(str(err))
            log.error("audience failed", extra={"audience": spec.name, "error": err.message})
        if audience_ok:
            try:
                segments = ws.segment_counts(spec)
                metrics = ws.metrics(spec)
            except EngineError as err:
                errors.append(str(err))
        written = _write_outputs(settings, request, ws, run_dir, audience_ok)
        errors.extend(written.errors)
        steps = tuple(ws.steps)
    finally:
        ws.close()
    manifest = Manifest(
        run_id=request.run_id,
        audience=spec.name,
        layer=spec.layer,
        as_of=request.as_of.isoformat(),
        params=manifest_params(request.params),
        status=run_status(written.records, errors),
        outputs=tuple(written.records),
        steps=steps,
        segments=segments,
        metrics=json_ready(metrics),
        errors=tuple(errors),
        spec=spec.display_path,
        dry_run=request.dry_run,
        seconds=round(time.perf_counter() - started, 3),
    )
    if run_dir is not None:
        manifest = _write_manifest(run_dir, manifest)
    return RunResult(manifest=manifest, run_dir=run_dir, previews=written.previews, rendered=tuple(rendered))


def _write_manifest(run_dir: Path, manifest: Manifest) -> Manifest:
    """Write manifest.json, the run folder's commit point; when the disk refuses, the run is failed with the reason.

    The outputs are already renamed into the folder, their data synced: one fsync of the folder makes their
    names durable, then the manifest is written (temp, fsync, rename) and the folder synced again
    (engine.outputs.atomic). A crash before that leaves no manifest, or one that names only whole files.
    """
    try:
        make_dir(run_dir)
        sync_dir(run_dir)
        write_atomic(run_dir / MANIFEST, manifest.encode())
        sync_dir(run_dir)
    except OSError as err:
        message = f"{MANIFEST} not written: {os_error(err)}"
        log.error("manifest not written", extra={"audience": manifest.audience, "error": message})
        return replace(manifest, status=RunStatus.FAILED, errors=(*manifest.errors, message))
    return manifest


def os_error(err: OSError) -> str:
    """One line for a file-system error: what failed and where (no traceback)."""
    where = f" ({err.filename})" if err.filename else ""
    return f"{err.strerror or type(err).__name__}{where}"


def _write_csv(ws: Workspace, query: str, output: OutputSpec, path: Path) -> str:
    """DuckDB writes the CSV to a temp file beside ``path``; it is renamed only once complete."""
    tmp = temp_path(path)
    try:
        ws.copy_csv(query, output, str(tmp))
        return commit_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass
class _Written:
    """The outputs stage's tally while it runs: records in manifest order, errors, previews."""

    records: list[OutputRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    previews: dict[str, tuple[list[str], list[tuple[str, ...]]]] = field(default_factory=dict)

    def fail(self, output: OutputSpec, record: OutputRecord, err: EngineError | OSError) -> OutputRecord:
        message = err.message if isinstance(err, EngineError) else f"{record.file} not written: {os_error(err)}"
        self.errors.append(f"output {record.label}: {message}")
        log.error("output failed", extra={"output": record.label, "error": message})
        return replace(record, status=OutputStatus.FAILED, error=message)


def _write_outputs(
    settings: Settings, request: RunRequest, ws: Workspace, run_dir: Path | None, audience_ok: bool
) -> _Written:
    spec = request.spec
    stamp = file_timestamp(request.as_of, settings.timezone)
    params = manifest_params(request.params)
    out = _Written()
    if run_dir is not None:
        try:
            make_dir(run_dir)  # its name in the audience folder made durable
        except OSError as err:  # every file then fails on its own, with this reason
            log.error("run folder not created", extra={"path": str(run_dir), "error": os_error(err)})
    production: dict[str, OutputRecord] = {}  # manifest order: every production output, then the TEST files
    tests: list[OutputRecord] = []
    counted: list[tuple[OutputSpec, str, int]] = []
    for output in spec.outputs:
        record = production[output.name] = OutputRecord(
            name=output.name,
            file=file_name(output.file, stamp, params),
            is_test=False,
            status=OutputStatus.FAILED,
            segment=output.segment,
        )
        if not audience_ok:
            production[output.name] = replace(record, error="audience failed: see errors")
            continue
        query = ws.output_query(spec, output)
        try:
            rows = ws.count_rows(query, output)
            if request.preview_rows:
                out.previews[output.name] = (
                    [c.header for c in output.columns],
                    ws.sample_rows(query, output, limit=request.preview_rows),
                )
        except EngineError as err:
            production[output.name] = out.fail(output, record, err)
            continue
        production[output.name] = replace(record, rows=rows)
        counted.append((output, query, rows))
    no_files = audience_empty(spec.when_empty, ws.steps, [rows for *_, rows in counted])
    for output, query, rows in counted:
        skip = skip_output(rows, output.when_empty, no_files=no_files)
        record = production[output.name] = replace(
            production[output.name], status=OutputStatus.EMPTY_NOT_WRITTEN if skip else OutputStatus.WRITTEN
        )
        try:
            if not skip and run_dir is not None:
                record = production[output.name] = replace(
                    record, sha256=_write_csv(ws, query, output, run_dir / record.file)
                )
        except (EngineError, OSError) as err:
            production[output.name] = out.fail(output, record, err)
            continue
        test = None if no_files else _test_output(settings, ws, output, query, rows, stamp, params, run_dir, out)
        if test is not None:
            tests.append(test)
    out.records = [*production.values(), *tests]
    return out


def _test_output(
    settings: Settings,
    ws: Workspace,
    output: OutputSpec,
    query: str,
    rows: int,
    stamp: str,
    params: Mapping[str, Any],
    run_dir: Path | None,
    out: _Written,
) -> OutputRecord | None:
    """The TEST twin of one output: the test users over the production row ``source_row`` picks.

    A TEST file that cannot be built or written is a failed record of its own: the production file stays.
    """
    if output.test is None:
        return None
    record = OutputRecord(
        name=output.name,
        file=file_name(output.test.file, stamp, params),
        is_test=True,
        status=OutputStatus.FAILED,
        segment=output.segment,
    )
    headers = [c.header for c in output.columns]
    try:
        offset = source_offset(output.test.source_row, rows)
        picked = ws.sample_rows(query, output, limit=1, offset=offset) if offset is not None else []
        test = test_rows(
            output.test, headers, picked[0] if picked else None, settings.test_users, production_empty=rows == 0
        )
        record = replace(
            record,
            rows=len(test or []),
            status=OutputStatus.WRITTEN if test is not None else OutputStatus.EMPTY_NOT_WRITTEN,
        )
        if test is not None and run_dir is not None:
            record = replace(record, sha256=write_atomic(run_dir / record.file, encode_csv(headers, test)))
    except (EngineError, OSError) as err:
        return out.fail(output, record, err)
    return record
