"""One audience through the stages: params, queries (PostgreSQL), DuckDB shaping, CSVs, manifest.

No business logic lives here: each stage is its own module; this file only chains them
and keeps the per-output failure bookkeeping (a failed output never stops the others,
and nothing half-written is left behind).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from engine.config import Settings
from engine.db import SourcePool
from engine.errors import EngineError
from engine.outputs.atomic import commit_file, temp_path, write_atomic
from engine.outputs.csvfile import encode_csv
from engine.outputs.testrows import test_rows
from engine.render.env import RenderedQuery, make_environment, render_sql
from engine.sources.query import fetch_arrow
from engine.spec.model import AudienceSpec
from engine.timeutil import file_timestamp
from engine.transform.duck import Workspace
from engine.transform.sqlparts import literal

log = logging.getLogger("engine.pipeline")


@dataclass
class RunResult:
    """What one audience run produced; ``manifest`` is exactly what manifest.json holds."""

    run_id: str
    audience: str
    status: str
    manifest: dict[str, Any]
    run_dir: Path | None
    previews: dict[str, tuple[list[str], list[tuple[str, ...]]]] = field(default_factory=dict)
    rendered: list[RenderedQuery] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in {"succeeded", "empty"}


@dataclass(frozen=True)
class RunRequest:
    """Everything that makes a run reproducible: spec, as_of, param overrides."""

    spec: AudienceSpec
    as_of: datetime
    params: Mapping[str, Any]
    dry_run: bool = False
    preview_rows: int = 0
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def render_queries(settings: Settings, spec: AudienceSpec, values: Mapping[str, Any],
                   bound: Mapping[str, list[Any]] | None = None) -> list[RenderedQuery]:
    """Render every query with placeholder arrays (``preview``/``plan`` show these)."""
    env = make_environment(settings.project_dir / "sql")
    out = []
    for query in spec.queries:
        query_values = dict(values)
        for bind in query.binds:
            query_values[bind.param] = list((bound or {}).get(bind.param, []))
        out.append(render_sql(env, settings.project_dir / "sql", name=query.name, template=query.sql,
                              values=query_values, options=query.options))
    return out


def _run_queries(settings: Settings, pool: SourcePool, spec: AudienceSpec, values: dict[str, Any],
                 ws: Workspace, rendered_log: list[RenderedQuery]) -> None:
    env = make_environment(settings.project_dir / "sql")
    with pool.connection() as conn:
        # one read-only snapshot for every query of the audience: they all see the same moment
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for query in spec.queries:
            query_values = dict(values)
            for bind in query.binds:
                query_values[bind.param] = ws.distinct_values(bind.query, bind.column)
            rendered = render_sql(env, settings.project_dir / "sql", name=query.name, template=query.sql,
                                  values=query_values, options=query.options)
            rendered_log.append(rendered)
            started = time.perf_counter()
            table, ts_cols = fetch_arrow(conn, rendered)
            log.info("query done", extra={"audience": spec.name, "query": query.name, "rows": table.num_rows,
                                          "seconds": round(time.perf_counter() - started, 3)})
            ws.load(query.name, table, ts_cols)
        conn.rollback()


def _render_transform(settings: Settings, spec: AudienceSpec, values: Mapping[str, Any]) -> str:
    env = make_environment(settings.project_dir / "sql")
    template = env.get_template(spec.transform or "")
    # DuckDB runs locally over already-fetched rows: params appear as escaped literals
    return template.render({k: literal(v if not isinstance(v, datetime) else v.isoformat())
                            for k, v in values.items()})


def file_name(pattern: str, stamp: str, params: Mapping[str, Any]) -> str:
    """Expand an output file-name pattern: ``{timestamp}`` and params (``{product_id:.8}``)."""
    return pattern.format(**{**params, "timestamp": stamp})


def run_dir_for(settings: Settings, spec: AudienceSpec, as_of: datetime, run_id: str) -> Path:
    stamp = file_timestamp(as_of, settings.timezone)
    return settings.resolved_output_dir / spec.name / f"{stamp}_{run_id[:8]}"


def run_audience(settings: Settings, pool: SourcePool, request: RunRequest) -> RunResult:
    """Run one audience end to end and write its run folder (unless ``dry_run``)."""
    spec = request.spec
    run_id = request.run_id
    started = time.perf_counter()
    manifest: dict[str, Any] = {
        "run_id": run_id, "audience": spec.name, "layer": spec.layer, "as_of": request.as_of.isoformat(),
        "params": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in request.params.items()},
        "status": "running", "outputs": [], "steps": [], "segments": {}, "metrics": {},
        "errors": [], "warnings": [], "spec": spec.display_path, "dry_run": request.dry_run,
    }
    result = RunResult(run_id, spec.name, "running", manifest, None)
    ws = Workspace()
    try:
        try:
            values = {"as_of": request.as_of, **request.params}
            _run_queries(settings, pool, spec, values, ws, result.rendered)
            ws.build_audience(spec)
            if spec.transform:
                ws.transform(_render_transform(settings, spec, values))
            audience_ok = True
        except EngineError as err:
            audience_ok = False
            manifest["errors"].append(str(err))
            log.error("audience failed", extra={"audience": spec.name, "error": err.message})
        manifest["steps"] = [s.as_dict() for s in ws.steps]
        if audience_ok:
            manifest["segments"] = ws.segment_counts(spec)
            try:
                manifest["metrics"] = ws.metrics(spec)
            except EngineError as err:
                manifest["errors"].append(str(err))
        _write_outputs(settings, spec, request, ws, result, audience_ok)
    finally:
        ws.close()
    manifest["seconds"] = round(time.perf_counter() - started, 3)
    written = [o for o in manifest["outputs"] if o["status"] == "written"]
    failed = [o for o in manifest["outputs"] if o["status"] == "failed"]
    if manifest["errors"] and not written:
        status = "failed"
    elif manifest["errors"] or failed:
        status = "partial"
    elif not any(o["rows"] for o in manifest["outputs"] if not o["is_test"]):
        status = "empty"
    else:
        status = "succeeded"
    manifest["status"] = result.status = status
    if result.run_dir is not None:
        write_atomic(result.run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str).encode())
    return result


def _audience_empty(spec: AudienceSpec, ws: Workspace, output_rows: list[int]) -> bool:
    """Whether the audience counts as empty for ``when_empty``: after every step, or before thresholds."""
    if spec.when_empty == "no_files_before_thresholds":
        before = [s.rows for s in ws.steps if not s.step.startswith("load:")]
        names = [s.step for s in ws.steps if not s.step.startswith("load:")]
        if "thresholds" in names:
            return names.index("thresholds") > 0 and before[names.index("thresholds") - 1] == 0
    return all(not rows for rows in output_rows)


def _write_csv(ws: Workspace, query: str, output: Any, path: Path) -> str:
    """DuckDB writes the CSV to a temp file beside ``path``; it is renamed only once complete."""
    tmp = temp_path(path)
    try:
        ws.copy_csv(query, output, str(tmp))
        return commit_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_outputs(settings: Settings, spec: AudienceSpec, request: RunRequest, ws: Workspace,
                   result: RunResult, audience_ok: bool) -> None:
    manifest = result.manifest
    stamp = file_timestamp(request.as_of, settings.timezone)
    if not request.dry_run:
        result.run_dir = run_dir_for(settings, spec, request.as_of, result.run_id)
        result.run_dir.mkdir(parents=True, exist_ok=True)
    produced: list[tuple[Any, str, list[str], int]] = []
    for output in spec.outputs:
        entry = {"name": output.name, "file": file_name(output.file, stamp, manifest["params"]), "is_test": False,
                 "rows": 0, "sha256": None, "status": "failed", "error": None, "segment": output.segment}
        manifest["outputs"].append(entry)
        if not audience_ok:
            entry["error"] = "audience failed: see errors"
            continue
        headers = [c.header for c in output.columns]
        query = ws.output_query(spec, output)
        try:
            entry["rows"] = rows = ws.count_rows(query, output)
            if request.preview_rows:
                result.previews[output.name] = (headers, ws.sample_rows(query, output, limit=request.preview_rows))
        except EngineError as err:
            entry["error"] = err.message
            manifest["errors"].append(f"output {output.name}: {err.message}")
            continue
        produced.append((output, query, headers, rows))
    no_files = spec.when_empty != "write_outputs" and _audience_empty(spec, ws, [r for *_, r in produced])
    for output, query, headers, rows in produced:
        entry = next(e for e in manifest["outputs"] if e["name"] == output.name and not e["is_test"])
        skip = (not rows and output.when_empty == "skip") or no_files
        entry["status"] = "empty_not_written" if skip else "written"
        try:
            if not skip and not request.dry_run:
                entry["sha256"] = _write_csv(ws, query, output, result.run_dir / entry["file"])  # type: ignore[operator]
            if output.test is None or no_files:
                continue
            source = output.test.source_row  # 1-based; the last row when there are fewer
            picked = ws.sample_rows(query, output, limit=1, offset=min(source, rows) - 1) \
                if source is not None and rows else []
            test = test_rows(output.test, headers, picked[0] if picked else None, settings.test_users,
                             production_empty=rows == 0)
        except EngineError as err:
            entry["status"], entry["error"] = "failed", err.message
            manifest["errors"].append(f"output {output.name}: {err.message}")
            continue
        test_entry = {"name": output.name, "file": file_name(output.test.file, stamp, manifest["params"]),
                      "is_test": True, "rows": len(test or []), "sha256": None,
                      "status": "written" if test is not None else "empty_not_written", "error": None,
                      "segment": output.segment}
        manifest["outputs"].append(test_entry)
        if test is not None and not request.dry_run:
            test_entry["sha256"] = write_atomic(result.run_dir / test_entry["file"], encode_csv(headers, test))  # type: ignore[operator]
