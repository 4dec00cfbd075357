"""Conversion SQL (``sql/conversions/*.sql``) checked like audience SQL, and every automation's conversion named.

Each file is rendered as ``engine impact`` renders it (the sandbox, ``window_start`` and ``window_end`` bound,
any other name undefined), then parsed by PostgreSQL's parser (``engine.pgquery``: one SELECT, values in
code, no refused function); it must return ``user_id`` and ``converted_at``, and never read the clock
(``now()``, ``current_timestamp``, ...): what counts is decided by the window the engine binds, so measuring
again later gives the same answer. sqlfluff lints the files with the other SQL (``lint``). An automation's
``conversions:`` entry must name a file here (located at its line in schedules.yaml, with a did-you-mean).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterator

from jinja2.sandbox import SandboxedEnvironment

from engine.documents import Document, load
from engine.errors import RenderError, ScheduleError
from engine.pgquery import ShapeError, parse_select
from engine.render.env import render_sql
from engine.render.locate import locate
from engine.schedules.loader import SCHEDULES_FILE
from engine.schedules.marks import value_location
from engine.sources.binding import server_bound
from engine.validate.findings import Findings
from engine.validate.render import AS_OF

CONVERSIONS_DIR = "conversions"
VALUES = ("window_start", "window_end")
COLUMNS = ("user_id", "converted_at")
CLOCK_FUNCTIONS = frozenset({"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday"})
_HOW = "a conversion returns `user_id` and `converted_at` in ({{ window_start }}, {{ window_end }}]"


def conversion_files(sql_root: Path) -> list[Path]:
    folder = sql_root / CONVERSIONS_DIR
    return sorted(p for p in folder.glob("*.sql") if p.is_file()) if folder.is_dir() else []


def _walk(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key[:1].isupper() and isinstance(child, dict):
                yield key, child
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _clock_reads(select: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(what, tree location) of every read of the current time in a parse tree."""
    for kind, node in _walk(select):
        if kind == "FuncCall":
            name = node["funcname"][-1]["String"]["sval"].lower()
            if name in CLOCK_FUNCTIONS:
                yield f"{name}()", int(node.get("location", 0))
        elif kind == "SQLValueFunction" and str(node.get("op", "")).startswith(("SVFOP_CURRENT_", "SVFOP_LOCAL")):
            op = str(node["op"]).removeprefix("SVFOP_").lower()
            if op not in {"current_role", "current_user", "current_catalog", "current_schema"}:
                yield op.removesuffix("_n"), int(node.get("location", 0))


def _select_columns(select: dict[str, Any]) -> list[str] | None:
    """The output names of a SELECT's target list (None: a set operation or a star, not decidable here)."""
    if select.get("op", "SETOP_NONE") != "SETOP_NONE":
        larg = select.get("larg")
        return _select_columns(larg) if isinstance(larg, dict) else None
    names: list[str] = []
    for target in select.get("targetList") or []:
        res = target.get("ResTarget", {})
        if res.get("name"):
            names.append(res["name"])
            continue
        fields = res.get("val", {}).get("ColumnRef", {}).get("fields", [])
        if not fields or "A_Star" in fields[-1]:
            return None
        names.append(fields[-1].get("String", {}).get("sval", "?"))
    return names


def check_conversion_file(findings: Findings, env: SandboxedEnvironment, sql_root: Path, path: Path) -> None:
    template = f"{CONVERSIONS_DIR}/{path.name}"
    display = f"sql/{template}"
    name = path.stem
    try:
        rendered = render_sql(
            env, sql_root, name=f"conversion {name}", template=template, values=dict.fromkeys(VALUES, AS_OF)
        )
    except RenderError as err:
        rule = "render/syntax" if "syntax" in err.message else "conversions/render"
        loc = err.location
        hint = err.hint
        if "undefined" in err.message:
            hint = f"a conversion's SQL may use {', '.join(VALUES)} only (bound values); options and macros shape it"
        findings.add(
            rule,
            f"{err.message} (conversion {name!r})",
            path=loc.file if loc else display,
            line=loc.line if loc else None,
            col=loc.col if loc else None,
            hint=hint,
        )
        return

    def add(rule: str, message: str, offset: int, hint: str) -> None:
        where, line, col = locate(env, template, rendered.sql, offset)
        findings.add(rule, f"{message} (conversion {name!r})", path=where, line=line, col=col, hint=hint)

    try:
        server_bound(rendered.sql, rendered.params)
        parsed = parse_select(rendered.sql)
    except ShapeError as err:
        add(err.rule, err.message, err.offset + (2 if rendered.sql.startswith("%(", err.offset) else 0), err.hint)
        return
    for what, location in _clock_reads(parsed.select):
        add(
            "conversions/clock",
            f"reads the clock ({what}): a conversion counts inside the window the engine binds",
            parsed.offset(location),
            "compare with {{ window_start }} and {{ window_end }} instead: measuring again gives the same answer",
        )
    columns = _select_columns(parsed.select)
    missing = [c for c in COLUMNS if columns is not None and c not in columns]
    if missing:
        add(
            "conversions/columns",
            f"returns no column {', '.join(missing)} (it returns {', '.join(columns or []) or 'nothing'})",
            0,
            _HOW + ": alias them with `as`",
        )


def _schedules_doc(project_dir: Path) -> Document | None:
    path = project_dir / SCHEDULES_FILE
    if not path.exists():
        return None
    try:
        return load(path, SCHEDULES_FILE, error=ScheduleError)
    except ScheduleError:
        return None  # the schedules check reports it


def check_conversion_names(findings: Findings, project_dir: Path, doc: Document | None = None) -> None:
    """Every ``conversions: - name:`` of schedules.yaml names a file of sql/conversions/ (located)."""
    doc = doc if doc is not None else _schedules_doc(project_dir)
    if doc is None or not isinstance(doc.data, dict):
        return
    known = [p.stem for p in conversion_files(project_dir / "sql")]
    automations = doc.data.get("automations")
    for index, item in enumerate(automations if isinstance(automations, list) else []):
        entries = item.get("conversions") if isinstance(item, dict) else None
        for position, entry in enumerate(entries if isinstance(entries, list) else []):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            loc = value_location(doc, ("automations", index, "conversions", position, "name"))
            findings.add(
                "conversions/unknown",
                f"automation {item.get('id')!r} names conversion {name!r}, but sql/{CONVERSIONS_DIR}/{name}.sql "
                "does not exist",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                key_path=loc.key_path,
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + f"conversions in sql/{CONVERSIONS_DIR}/: {', '.join(known) or 'none'}",
            )


def check_conversions(findings: Findings, env: SandboxedEnvironment, project_dir: Path) -> int:
    """Every conversion file and every conversion an automation names; how many files were checked."""
    files = conversion_files(project_dir / "sql")
    for path in files:
        check_conversion_file(findings, env, project_dir / "sql", path)
    check_conversion_names(findings, project_dir)
    return len(files)
