"""Run test cases: load each case's fixtures, run the audience (the caller's ``run``: ``engine.api.run``), compare.

The run is passed in rather than imported: ``engine.api`` calls this module, so importing it back
would make a cycle the layer contract forbids.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Callable, Mapping, Protocol, Sequence

from engine.cases.fixtures import Aliases, load_fixtures, table_columns, throwaway_database
from engine.cases.model import CaseResult, TestCase
from engine.config import Settings
from engine.db import connect
from engine.errors import EngineError
from engine.runs.model import RunResult
from engine.spec.model import AudienceSpec


class AudienceRun(Protocol):
    """The part of ``engine.api.run`` a case needs: a dry run of one audience with its preview rows."""

    def __call__(
        self,
        settings: Settings,
        *,
        selectors: Sequence[str],
        as_of: datetime,
        variables: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        preview_rows: int = 0,
        record: bool | None = None,
    ) -> list[RunResult]: ...


MAX_ROWS = 10_000  # rows compared per output; a case is a handful of rows, not a data set


def expected_text(value: Any) -> str:
    """An expected YAML value as the CSV text it must equal (null is the empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _line(row: dict[str, str]) -> str:
    return " | ".join(f"{k}={v}" for k, v in row.items())


def _compare_output(
    name: str,
    expected: Sequence[dict[str, Any]],
    headers: list[str] | None,
    rows: list[tuple[str, ...]],
    aliases: Aliases,
) -> str | None:
    """A readable block when the output's rows differ from the expected ones, else None."""
    if headers is None:
        return f"output {name}: not produced (see the errors above)"
    columns = [h for h in headers if any(h in row for row in expected)] or headers
    actual = [{c: aliases.name(row[headers.index(c)]) for c in columns} for row in rows]
    wanted = [{c: expected_text(row.get(c)) for c in columns} for row in expected]
    if actual == wanted:
        return None
    diff = [
        line
        for line in difflib.ndiff([_line(r) for r in wanted], [_line(r) for r in actual])
        if not line.startswith("?")
    ]
    head = f"output {name}: expected {len(wanted)} row(s), got {len(actual)} ('-' expected only, '+' actual only)"
    return "\n".join([head, *("    " + line for line in diff)])


def _run_case(
    run: AudienceRun, settings: Settings, spec: AudienceSpec, case: TestCase, dsn: str, columns: Any
) -> list[str]:
    aliases = Aliases()
    load_fixtures(dsn, case.fixtures, as_of=case.as_of, aliases=aliases, columns=columns, where=case.location)
    params = {
        k: aliases.uuid_for(v) if (p := spec.param(k)) and p.type == "uuid" else v for k, v in case.params.items()
    }
    case_settings = replace(settings, source_dsn=dsn, state_dsn=None, throwaway_source=True)  # ours: no role check
    [result] = run(
        case_settings,
        selectors=[spec.name],
        as_of=case.as_of,
        variables=params,
        dry_run=True,
        preview_rows=MAX_ROWS,
        record=False,
    )
    problems = [f"audience error: {aliases.name(e)}" for e in result.manifest.errors]
    for output, expected in case.expect.items():
        headers, rows = result.previews.get(output, (None, []))
        block = _compare_output(output, expected, headers, rows, aliases)
        if block:
            problems.append(block)
    counts = {s.step: s.rows for s in result.manifest.steps}
    for step, wanted_rows in case.steps.items():
        if step not in counts:
            problems.append(f"step {step}: no such step (steps: {', '.join(counts)})")
        elif counts[step] != wanted_rows:
            problems.append(f"step {step}: expected {wanted_rows} row(s), got {counts[step]}")
    return problems


def run_cases(
    settings: Settings,
    cases: Sequence[TestCase],
    specs: Sequence[AudienceSpec],
    *,
    admin_dsn: str,
    run: AudienceRun,
    on_result: Callable[[CaseResult], None] = lambda _: None,
) -> list[CaseResult]:
    """Run every case in one throwaway database (emptied between cases); report each as it finishes."""
    by_name = {s.name: s for s in specs}
    results: list[CaseResult] = []
    if not cases:
        return results
    with throwaway_database(admin_dsn, retries=settings.connect_retries) as dsn:
        with connect(dsn, retries=settings.connect_retries) as conn:
            columns = table_columns(conn)
        for case in cases:
            started = time.perf_counter()
            try:
                problems = _run_case(run, settings, by_name[case.audience], case, dsn, columns)
            except EngineError as err:
                problems = [str(err)]
            result = CaseResult(case, tuple(problems), time.perf_counter() - started)
            on_result(result)
            results.append(result)
    return results
