"""Read ``audiences/<name>.tests.yaml``: schema, then every name checked against the audience and the app schema.

``check_file`` returns every problem (``engine validate`` lists them); ``load_cases`` raises the first.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

from engine.appdb.schema import declared_columns
from engine.cases.model import TestCase
from engine.documents import Document, load, packaged_schema, schema_problems
from engine.errors import EngineError, SpecError, first_of
from engine.spec.loader import TESTS_SUFFIX, test_case_files
from engine.spec.model import AudienceSpec
from engine.timeutil import parse_as_of


def cases_schema() -> dict[str, Any]:
    """The JSON Schema of test-case files shipped in the package."""
    return packaged_schema("engine.spec", "schemas/audience-tests.v1.json")


def _unknown(doc: Document, key_path: tuple[str | int, ...], what: str, name: str, known: Sequence[str]) -> SpecError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or 'none'}"
    return SpecError(f"unknown {what} {name!r}", location=doc.locate(key_path), hint=hint)


def _check_case(
    doc: Document, i: int, case: dict[str, Any], spec: AudienceSpec, tables: dict[str, list[str]]
) -> list[SpecError]:
    problems: list[SpecError] = []
    try:
        parse_as_of(str(case["as_of"]))
    except EngineError as err:
        problems.append(SpecError(err.message, location=doc.locate(("cases", i, "as_of")), hint=err.hint))
    for name in case.get("params") or {}:
        if spec.param(name) is None:
            problems.append(_unknown(doc, ("cases", i, "params", name), "param", name, [p.name for p in spec.params]))
    for table, rows in (case.get("fixtures") or {}).items():
        if table not in tables:
            problems.append(_unknown(doc, ("cases", i, "fixtures", table), "app table", table, sorted(tables)))
            continue
        for r, row in enumerate(rows):
            problems.extend(
                _unknown(doc, ("cases", i, "fixtures", table, r, col), f"column of {table}", col, tables[table])
                for col in row
                if col not in tables[table]
            )
    outputs = {o.name: [c.header for c in o.columns] for o in spec.outputs}
    for output, rows in (case.get("expect") or {}).items():
        if output not in outputs:
            problems.append(_unknown(doc, ("cases", i, "expect", output), "output", output, sorted(outputs)))
            continue
        for r, row in enumerate(rows):
            problems.extend(
                _unknown(
                    doc, ("cases", i, "expect", output, r, col), f"header of output {output!r}", col, outputs[output]
                )
                for col in row
                if col not in outputs[output]
            )
    return problems


def check_file(path: Path, display: str, specs: dict[str, AudienceSpec]) -> tuple[list[TestCase], list[SpecError]]:
    """The cases of one file and every problem in it (cases are only returned when there is none)."""
    try:
        doc = load(path, display)
    except SpecError as err:
        return [], [err]
    problems = schema_problems(doc, cases_schema(), error=SpecError)
    if problems:
        return [], problems
    audience = doc.data.get("audience") or path.name[: -len(TESTS_SUFFIX)]
    spec = specs.get(audience)
    if spec is None:
        if (path.parent / f"{audience}.yaml").exists():
            return [], []  # the audience's own file failed to load: one error, reported there
        where = ("audience",) if "audience" in doc.data else ()
        return [], [_unknown(doc, where, "audience", audience, sorted(specs))]
    tables = declared_columns()
    cases: list[TestCase] = []
    for i, case in enumerate(doc.data["cases"]):
        found = _check_case(doc, i, case, spec, tables)
        problems.extend(found)
        if found:
            continue
        cases.append(
            TestCase(
                audience=spec.name,
                name=case["name"],
                location=doc.locate(("cases", i)),
                as_of=parse_as_of(str(case["as_of"])),
                params=dict(case.get("params") or {}),
                fixtures={t: tuple(rows) for t, rows in (case.get("fixtures") or {}).items()},
                expect={o: tuple(rows) for o, rows in case["expect"].items()},
                steps=dict(case.get("steps") or {}),
            )
        )
    return (cases if not problems else []), problems


def load_cases(project_dir: Path, specs: Sequence[AudienceSpec]) -> list[TestCase]:
    """Every test case of the project; raises the first problem of any file."""
    by_name = {s.name: s for s in specs}
    out: list[TestCase] = []
    for path in test_case_files(project_dir):
        cases, problems = check_file(path, str(path.relative_to(project_dir)), by_name)
        if problems:
            raise first_of(problems)
        out.extend(cases)
    return out
