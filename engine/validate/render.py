"""Render every query of an audience the way a run does, and report what fails with file:line:col.

First a static pass over the template (and what it ``{% include %}``s): every variable the
audience does not declare is reported, even in branches the current ``options`` skip (what a
template's source uses is kept between runs: parsing it was a quarter of a warm run). Then
the real render (sandboxed, StrictUndefined, values as bound placeholders) catches the rest:
a missing ``options`` key, a value used in a condition, a bad ``{% import %}``.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import RenderError
from engine.pgquery import ShapeError
from engine.render.env import render_sql
from engine.render.locate import locate
from engine.render.model import RenderedQuery
from engine.sources.binding import server_bound
from engine.spec.model import AudienceSpec, QuerySpec
from engine.validate.findings import Findings
from engine.validate.resultcache import ResultCache, library_version

AS_OF = datetime(2025, 1, 1, tzinfo=timezone.utc)  # any moment: values never reach the SQL text
SAMPLE = {
    "integer": 1,
    "number": 1.5,
    "string": "x",
    "boolean": True,
    "uuid": "00000000-0000-4000-8000-000000000000",
    "timestamp": AS_OF,
}


def sample_values(spec: AudienceSpec) -> dict[str, Any]:
    """``as_of`` and every param: its default, else a sample value of its type."""
    values: dict[str, Any] = {"as_of": AS_OF}
    for param in spec.params:
        values[param.name] = param.default if param.default is not None else SAMPLE[param.type]
    return values


def query_values(spec: AudienceSpec, query: QuerySpec) -> dict[str, Any]:
    """What the template of ``query`` may use: as_of, the params and its bound arrays (empty)."""
    return {**sample_values(spec), **{bind.param: [] for bind in query.binds}}


def find_column(line: str, name: str) -> int | None:
    """1-based column of ``name`` on ``line``, preferring a use inside a Jinja tag."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    tags = [m.span() for m in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", line)]
    hits = [m.start() for m in pattern.finditer(line)]
    inside = [h for h in hits if any(a <= h < b for a, b in tags)]
    chosen = inside or hits
    return chosen[0] + 1 if chosen else None


def _included(ast: nodes.Template) -> Iterator[str]:
    for node in ast.find_all(nodes.Include):
        if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
            yield node.template.value


Analysis = tuple[dict[str, int], tuple[str, ...]]  # ({undeclared variable: first line}, included templates)
ANALYSIS_VERSION = "1"  # a key part: bump when what _parse_analysis reports changes


@lru_cache(maxsize=1024)
def _parse_analysis(env: SandboxedEnvironment, template: str, source: str) -> Analysis:
    ast = env.parse(source, template)
    lines = {
        name: min(n.lineno for n in ast.find_all(nodes.Name) if n.name == name)
        for name in meta.find_undeclared_variables(ast)
    }
    return lines, tuple(_included(ast))


def _syntax(env: SandboxedEnvironment) -> str:
    """The environment's settings that change how a source parses (a key part)."""
    return repr(
        (
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            sorted(env.extensions),
        )
    )


def _decode_analysis(value: list[Any]) -> Analysis:
    lines, included = value
    return {str(name): int(line) for name, line in lines.items()}, tuple(str(t) for t in included)


def _analyse(cache: ResultCache, env: SandboxedEnvironment, template: str, source: str) -> Analysis:
    """What one template's source uses and includes; a syntax error is raised (and never kept)."""
    key = cache.key(ANALYSIS_VERSION, library_version("jinja2"), _syntax(env), source)
    return cache.remember(
        key,
        lambda: _parse_analysis(env, template, source),
        encode=lambda found: [found[0], list(found[1])],
        decode=_decode_analysis,
    )


def _undeclared(
    cache: ResultCache, env: SandboxedEnvironment, template: str, known: set[str], seen: set[str]
) -> Iterator[tuple[str, str, int]]:
    """(template, variable, line) of every variable used but not known, following includes."""
    if template in seen:
        return
    seen.add(template)
    source, _, _ = env.loader.get_source(env, template)  # type: ignore[union-attr]
    lines, included = _analyse(cache, env, template, source)
    for name in sorted(set(lines) - known):
        yield template, name, lines[name]
    for child in included:
        yield from _undeclared(cache, env, child, known, seen)


def _source_line(sql_root: Path, display: str, line: int | None) -> str:
    path = sql_root.parent / display
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[line - 1] if line and 0 < line <= len(lines) else ""


def _report_undeclared(
    findings: Findings,
    cache: ResultCache,
    env: SandboxedEnvironment,
    sql_root: Path,
    spec: AudienceSpec,
    query: QuerySpec,
    values: dict[str, Any],
) -> bool:
    found = False
    known = set(values) | {"options"} | set(env.globals)
    for template, name, line in _undeclared(cache, env, query.sql, known, set()):
        found = True
        display = f"sql/{template}"
        declared = sorted(p.name for p in spec.params)
        close = difflib.get_close_matches(name, sorted(values), n=1)
        hint = (
            (f"did you mean {close[0]!r}? " if close else "")
            + f"declare it under params: in {spec.display_path} (declared: {', '.join(declared) or 'none'}; "
            f"always available: as_of, options"
            + (f"; bound arrays: {', '.join(b.param for b in query.binds)}" if query.binds else "")
            + ")"
        )
        findings.add(
            "render/undefined-variable",
            f"undefined variable {name!r} (audience {spec.name!r}, query {query.name!r})",
            path=display,
            line=line,
            col=find_column(_source_line(sql_root, display, line), name),
            hint=hint,
        )
    return found


def _shape_ok(
    findings: Findings, env: SandboxedEnvironment, spec: AudienceSpec, template: str, rendered: RenderedQuery
) -> bool:
    """Report (located) a query that is not exactly one statement or puts a value inside text."""
    try:
        server_bound(rendered.sql, rendered.params)
        return True
    except ShapeError as err:
        offset = err.offset + (2 if rendered.sql.startswith("%(", err.offset) else 0)
        path, line, col = locate(env, template, rendered.sql, offset)
        findings.add(
            err.rule,
            f"{err.message} (audience {spec.name!r}, query {rendered.name!r})",
            path=path,
            line=line,
            col=col,
            hint=err.hint,
        )
        return False


def render_queries(
    findings: Findings, env: SandboxedEnvironment, sql_root: Path, spec: AudienceSpec, *, cache_dir: Path | None = None
) -> dict[str, RenderedQuery]:
    """Each query of ``spec`` rendered (those that fail are reported and left out).

    ``cache_dir`` keeps each template's static analysis between runs (see ``resultcache``)."""
    cache = ResultCache(cache_dir, "jinja-names")
    rendered: dict[str, RenderedQuery] = {}
    for query in spec.queries:
        values = query_values(spec, query)
        try:
            if _report_undeclared(findings, cache, env, sql_root, spec, query, values):
                continue
        except (jinja2.TemplateSyntaxError, RenderError):
            pass  # render_sql reports it with its line
        except jinja2.TemplateNotFound:
            continue  # the spec loader reported the missing file
        try:
            candidate = render_sql(
                env, sql_root, name=query.name, template=query.sql, values=values, options=query.options
            )
            if _shape_ok(findings, env, spec, query.sql, candidate):
                rendered[query.name] = candidate
        except RenderError as err:
            loc = err.location
            display = loc.file if loc else f"sql/{query.sql}"
            quoted = re.findall(r"'([A-Za-z_][A-Za-z0-9_]*)'", err.message)
            col = (
                find_column(_source_line(sql_root, display, loc.line if loc else None), quoted[-1]) if quoted else None
            )
            rule = "render/syntax" if "syntax" in err.message else "render/error"
            hint = err.hint
            if "'dict object' has no attribute" in err.message:
                hint = (
                    f"set it under options: of query {query.name!r} in {spec.display_path} "
                    f"(options set: {', '.join(sorted(query.options)) or 'none'})"
                )
            findings.add(
                rule,
                f"{err.message} (audience {spec.name!r}, query {query.name!r})",
                path=display,
                line=loc.line if loc else None,
                col=col or (loc.col if loc else None),
                hint=hint,
            )
    return rendered
