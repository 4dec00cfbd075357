"""``validate_project``: every check over the project in one pass, every problem reported.

Order: audience files (syntax, schema, references) -> cadence.yaml and layers -> Jinja
render of each query -> tables and columns against catalog/source.yaml (``--db``: also whether it
is stale) -> (``--db``: prepare on the database) -> columns through each audience
-> file names -> schedules.yaml -> sqlfluff. A file with problems is skipped by the later
checks that need it; the rest go on. ``select`` takes audience selectors (names, ``layer:N``,
``tag:T``) and ``rule:FAMILY[/NAME]`` to keep only some checks.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import jinja2

from engine.config import Settings
from engine.config.project import require_project
from engine.errors import ConfigError
from engine.render.env import make_environment
from engine.render.model import RenderedQuery
from engine.spec.model import AudienceSpec
from engine.transform.sqlparts import literal
from engine.validate.audiences import AudienceEntry, load_entries, select_entries
from engine.validate.cadencefile import check_audience_layers, check_cadence
from engine.validate.catalog import check_project_catalog
from engine.validate.columns import check_audience_columns
from engine.validate.conversions import VALUES as CONVERSION_VALUES
from engine.validate.conversions import check_conversions
from engine.validate.findings import FAMILIES, Findings, ValidationReport
from engine.validate.names import check_names
from engine.validate.params import check_unused_params
from engine.validate.render import render_queries, sample_values
from engine.validate.resultcache import KnownGood, default_cache_dir, library_version
from engine.validate.sandbox import check_sandbox
from engine.validate.schedules import check_schedules
from engine.validate.sqlcolumns import cached_infer_columns


def split_selectors(select: Sequence[str]) -> tuple[list[str], list[str]]:
    """(audience selectors, rule selectors) of ``--select``; unknown rule families are usage errors."""
    audiences, rules = [], []
    for item in select:
        if item.startswith("rule:"):
            rule = item[len("rule:") :]
            if rule.split("/", 1)[0] not in FAMILIES:
                raise ConfigError(f"--select {item!r}: unknown check family", hint=f"families: {', '.join(FAMILIES)}")
            rules.append(rule)
        else:
            audiences.append(item)
    return audiences, rules


def _lint_context(entries: Sequence[AudienceEntry]) -> dict[str, Any]:
    """Every name the audiences give their SQL, each standing as 1 (``options``: see lint.EveryOption).

    Read from the raw documents, so the SQL of an audience with a YAML problem still renders for
    sqlfluff (its problem is reported once, not again as lint noise).
    """
    context: dict[str, Any] = {"as_of": 1, **dict.fromkeys(CONVERSION_VALUES, 1)}  # conversions' bound window
    for entry in entries:
        data = entry.doc.data if entry.doc is not None and isinstance(entry.doc.data, dict) else {}
        params = data.get("params")
        context.update({str(name): 1 for name in (params if isinstance(params, dict) else {})})
        queries = data.get("queries")
        for query in queries if isinstance(queries, list) else []:
            binds = query.get("bind") if isinstance(query, dict) else None
            context.update({str(name): 1 for name in (binds if isinstance(binds, dict) else {})})
    return context


def _transform_sql(findings: Findings, env: jinja2.Environment, spec: AudienceSpec) -> str | None:
    """The transform rendered as a run renders it (params as DuckDB literals)."""
    values = {k: literal(v.isoformat() if isinstance(v, datetime) else v) for k, v in sample_values(spec).items()}
    try:
        return env.get_template(spec.transform or "").render(values)
    except jinja2.TemplateError as err:
        line = getattr(err, "lineno", None)
        findings.add(
            "render/error",
            f"transform: {err} (audience {spec.name!r})",
            path=f"sql/{spec.transform}",
            line=line,
            hint="declare the variable as a param",
        )
        return None


def _sql_files(project_dir: Path, env: jinja2.Environment, specs: Sequence[AudienceSpec] | None) -> list[Path]:
    """All SQL files (``specs`` None) or those the given audiences use, with what they import."""
    sql_root = project_dir / "sql"
    if specs is None:
        return sorted(p for p in sql_root.rglob("*.sql") if p.is_file()) if sql_root.is_dir() else []
    from jinja2 import meta  # noqa: PLC0415

    names = [q.sql for spec in specs for q in spec.queries] + [s.transform for s in specs if s.transform]
    seen: list[str] = []
    while names:
        name = names.pop(0)
        if name in seen or not (sql_root / name).is_file():
            continue
        seen.append(name)
        try:
            ast = env.parse((sql_root / name).read_text(encoding="utf-8"))
            names.extend(t for t in meta.find_referenced_templates(ast) if isinstance(t, str))
        except (jinja2.TemplateSyntaxError, UnicodeDecodeError):
            continue  # the render check reports it
    return sorted(sql_root / name for name in seen)


def validate_project(
    settings: Settings, *, select: Sequence[str] = (), db: bool = False, cache: bool = True, strict: bool = False
) -> ValidationReport:
    """Check the whole project (or the ``select``ed part); never raises for problems in it.

    ``cache`` keeps the answers of checks decided by content alone (sqlfluff's findings, a document
    passing its schema, a template's names, a query's columns) between runs (see ``resultcache``);
    ``strict`` reports style-only lint rules as errors instead of warnings (for CI).
    """
    started = time.perf_counter()
    root = settings.project_dir
    require_project(root)
    audience_selectors, rules = split_selectors(select)

    def wanted(family: str) -> bool:
        return not rules or any(r.split("/")[0] == family for r in rules)

    cache_dir = (settings.lint_cache_dir or default_cache_dir()) if cache else None
    known_valid = KnownGood(cache_dir, "schema", library_version("jsonschema"), library_version("referencing"))
    findings = Findings(root)
    entries = load_entries(root, findings, known_valid)
    chosen = select_entries(entries, audience_selectors)
    selected = {e.name for e in chosen} if audience_selectors else None
    specs = [e.spec for e in chosen if e.spec is not None]
    cadence = check_cadence(findings, root)
    check_audience_layers(findings, chosen, cadence)
    env = make_environment(root / "sql")
    rendered: dict[str, dict[str, RenderedQuery]] = {}
    for spec in specs:
        rendered[spec.name] = render_queries(findings, env, root / "sql", spec, cache_dir=cache_dir)
    for entry in chosen:
        if entry.spec is not None and entry.doc is not None:
            check_unused_params(findings, entry.doc, entry.spec, rendered[entry.spec.name], env)
    queries = [
        (spec.name, spec.query(name).sql, query) for spec in specs for name, query in rendered[spec.name].items()
    ]
    # a query whose SQL names an unknown table or column: its output columns are not to be trusted downstream
    untrusted = (
        check_project_catalog(findings, settings, env, queries, stale=db, references=not (db and wanted("db")))
        if wanted("catalog")
        else set()
    )
    case_files = check_case_files(
        findings, root, {s.name: s for s in (e.spec for e in entries) if s is not None}, selected
    )
    described: dict[tuple[str, str], tuple[str, ...]] = {}
    if db and wanted("db"):
        from engine.validate.dbcheck import check_on_database  # noqa: PLC0415  (psycopg only with --db)

        described = check_on_database(findings, settings, env, queries)
        untrusted |= {
            (audience, query.name) for audience, _, query in queries if (audience, query.name) not in described
        }
    if wanted("columns"):
        _check_columns(findings, env, chosen, rendered, described, cache_dir, untrusted)
    check_names(findings, entries, selected)
    by_name = {e.path.stem: e for e in entries} | {e.name: e for e in entries}  # a misnamed file still resolves
    check_schedules(findings, settings, by_name, cadence, selected, known_valid)
    # conversion SQL belongs to no audience: checked with the whole project, not under --select NAME
    if wanted("conversions") and selected is None:  # the files are counted with the other SQL files
        check_conversions(findings, env, root)
    files = _sql_files(root, env, specs if audience_selectors else None)
    if wanted("lint") and files:
        from engine.validate.lint import lint_files  # noqa: PLC0415

        # a file that does not render cannot be linted: its render problem is the one to fix first
        unrenderable = {root / f.path for f in findings.sorted() if f.family == "render"}
        lint_files(
            findings,
            root,
            [f for f in files if f not in unrenderable],
            _lint_context(entries),
            rendered_files={root / "sql" / q.sql for spec in specs for q in spec.queries},
            cache_dir=cache_dir,
            strict=strict,
        )
    kept = [f for f in findings.sorted() if not rules or any(f.rule == r or f.family == r for r in rules)]
    counted = (
        len(entries) + case_files + len(files) + sum((root / n).exists() for n in ("schedules.yaml", "cadence.yaml"))
    )
    return ValidationReport(
        tuple(kept), counted, time.perf_counter() - started, tuple(r for r in FAMILIES if wanted(r))
    )


def check_case_files(findings: Findings, root: Path, specs: dict[str, AudienceSpec], selected: set[str] | None) -> int:
    """Every audiences/*.tests.yaml (``engine test``'s cases): schema, audience, tables, columns, outputs."""
    from engine.cases.loader import check_file  # noqa: PLC0415
    from engine.spec.loader import TESTS_SUFFIX, test_case_files  # noqa: PLC0415

    paths = [p for p in test_case_files(root) if selected is None or p.name[: -len(TESTS_SUFFIX)] in selected]
    for path in paths:
        display = str(path.relative_to(root))
        for problem in check_file(path, display, specs)[1]:
            findings.add_error(problem, "yaml/test-case", default_path=display)
    return len(paths)


def _check_columns(
    findings: Findings,
    env: jinja2.Environment,
    chosen: Sequence[AudienceEntry],
    rendered: dict[str, dict[str, RenderedQuery]],
    described: dict[tuple[str, str], tuple[str, ...]],
    cache_dir: Path | None,
    untrusted: set[tuple[str, str]],
) -> None:
    from engine.transform import sandbox  # noqa: PLC0415  (segment and metric SQL is bound by DuckDB itself)

    duck = sandbox.connect()  # binding spec SQL may read files (table functions bind eagerly): not here
    try:
        for entry in chosen:
            spec = entry.spec
            if spec is None or entry.doc is None:
                continue
            columns = {
                q.name: described.get((spec.name, q.name))
                or (
                    cached_infer_columns(rendered[spec.name][q.name].sql, cache_dir)
                    if q.name in rendered[spec.name] and (spec.name, q.name) not in untrusted
                    else None
                )
                for q in spec.queries
            }
            transform = _transform_sql(findings, env, spec) if spec.transform else None
            check_sandbox(findings, entry.doc, spec, transform)
            check_audience_columns(findings, entry.doc, spec, columns, duck, transform)
    finally:
        duck.close()
