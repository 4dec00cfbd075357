"""Load audience YAML files: syntax, JSON Schema, cross-references, then the typed model.

``check_document`` returns every problem found (``engine validate`` prints them all);
``load_audience`` raises the first one, for commands that just need a usable spec.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from engine.documents import Document, KnownValid, load, schema_problems
from engine.errors import SpecError, first_of
from engine.spec.model import (
    AudienceSpec,
    Bind,
    Join,
    OrderRule,
    OutputColumn,
    OutputSpec,
    Param,
    QuerySpec,
    Requirement,
    TestSpec,
    Threshold,
)


@lru_cache(maxsize=None)
def audience_schema() -> dict[str, Any]:
    """The audience JSON Schema shipped in the package."""
    return json.loads(resources.files("engine.spec").joinpath("schemas/audience.v1.json").read_text("utf-8"))


def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else (f"known: {', '.join(known)}" if known else None)


def _reference_problems(doc: Document, sql_root: Path) -> list[SpecError]:
    data = doc.data
    problems: list[SpecError] = []
    names: list[str] = []
    for i, query in enumerate(data["queries"]):
        if query["name"] in names:
            problems.append(SpecError(f"duplicate query name {query['name']!r}",
                                      location=doc.locate(("queries", i, "name"))))
        for param, bind in (query.get("bind") or {}).items():
            if bind["query"] not in names:
                problems.append(SpecError(
                    f"query {query['name']!r} binds {param!r} from {bind['query']!r}, which is not an earlier query",
                    location=doc.locate(("queries", i, "bind", param, "query")), hint=_suggest(bind["query"], names)))
            if param in (data.get("params") or {}):
                problems.append(SpecError(f"bound array {param!r} shadows the audience param of the same name",
                                          location=doc.locate(("queries", i, "bind", param))))
        names.append(query["name"])
        if not (sql_root / query["sql"]).is_file():
            problems.append(SpecError(f"SQL file not found: sql/{query['sql']}",
                                      location=doc.locate(("queries", i, "sql")),
                                      hint="paths are relative to the project's sql/ folder"))
    audience = data["audience"]
    if audience["from"] not in names:
        problems.append(SpecError(f"audience.from names unknown query {audience['from']!r}",
                                  location=doc.locate(("audience", "from")), hint=_suggest(audience["from"], names)))
    for j, join in enumerate(audience.get("join") or []):
        if join["query"] not in names:
            problems.append(SpecError(f"audience.join names unknown query {join['query']!r}",
                                      location=doc.locate(("audience", "join", j, "query")),
                                      hint=_suggest(join["query"], names)))
    segments = list(data.get("segments") or {})
    for t, threshold in enumerate(data.get("thresholds") or []):
        seg = threshold.get("segment")
        if seg and seg not in segments:
            problems.append(SpecError(f"threshold names unknown segment {seg!r}",
                                      location=doc.locate(("thresholds", t, "segment")), hint=_suggest(seg, segments)))
    outputs: list[str] = []
    for o, output in enumerate(data["outputs"]):
        if output["name"] in outputs:
            problems.append(SpecError(f"duplicate output name {output['name']!r}",
                                      location=doc.locate(("outputs", o, "name"))))
        outputs.append(output["name"])
        seg = output.get("segment")
        if seg and seg not in segments:
            problems.append(SpecError(f"output {output['name']!r} names unknown segment {seg!r}",
                                      location=doc.locate(("outputs", o, "segment")), hint=_suggest(seg, segments)))
        for key in ("file",):
            if "{timestamp}" not in output[key]:
                problems.append(SpecError(f"output file name {output[key]!r} lacks {{timestamp}}",
                                          location=doc.locate(("outputs", o, key)),
                                          hint="file names carry the run's timestamp so runs never overwrite"))
    transform = data.get("transform")
    if transform and not (sql_root / transform).is_file():
        problems.append(SpecError(f"transform SQL file not found: sql/{transform}",
                                  location=doc.locate(("transform",))))
    params = data.get("params") or {}
    for t, threshold in enumerate(data.get("thresholds") or []):
        for bound in ("min", "max"):
            name = param_reference(threshold.get(bound))
            if name is None:
                continue
            if name not in params:
                problems.append(SpecError(f"threshold {bound} names unknown param {name!r}",
                                          location=doc.locate(("thresholds", t, bound)),
                                          hint=_suggest(name, list(params))))
            elif params[name].get("type") not in {"integer", "number"}:
                problems.append(SpecError(f"threshold {bound} names param {name!r} of type "
                                          f"{params[name].get('type')}, not a number",
                                          location=doc.locate(("thresholds", t, bound)),
                                          hint="declare it with type: integer or type: number"))
    for name, param in params.items():
        if "default" not in param and not param.get("required"):
            problems.append(SpecError(f"param {name!r} has no default and is not required",
                                      location=doc.locate(("params", name)),
                                      hint="give it a default or mark it required: true"))
    return problems


def check_document(doc: Document, sql_root: Path, *, known_valid: KnownValid | None = None) -> list[SpecError]:
    """Every schema and reference problem in one parsed audience document (``known_valid``: see schema_problems)."""
    if not isinstance(doc.data, dict):
        return [SpecError("an audience file must be a mapping", location=doc.locate(()))]
    problems = schema_problems(doc, audience_schema(), error=SpecError, known_valid=known_valid)
    if problems:
        return problems
    problems = _reference_problems(doc, sql_root)
    expected = Path(doc.display).stem if doc.path is None else doc.path.stem
    if doc.data["name"] != expected:
        problems.append(SpecError(f"audience name {doc.data['name']!r} differs from its file name {expected!r}",
                                  location=doc.locate(("name",)), hint=f"rename the file or set name: {expected}"))
    return problems


def _order(rules: list[dict[str, Any]]) -> tuple[OrderRule, ...]:
    return tuple(OrderRule(r["column"], r.get("direction", "asc"),
                           tuple(r["values"]) if "values" in r else None) for r in rules)


def _column(header: str, raw: Any) -> OutputColumn:
    if isinstance(raw, str):
        return OutputColumn(header, column=raw)
    return OutputColumn(header, column=raw.get("column"), value=raw.get("value"), format=raw.get("format", "text"))


def param_reference(value: Any) -> str | None:
    """The param a number field names (``min_owners`` or ``'{{ min_owners }}'``), None for a number."""
    if not isinstance(value, str):
        return None
    return value.strip().removeprefix("{{").removesuffix("}}").strip()


def _threshold(raw: dict[str, Any]) -> Threshold:
    low, high = param_reference(raw.get("min")), param_reference(raw.get("max"))
    return Threshold(raw["column"], raw.get("segment"), None if low else raw.get("min"),
                     None if high else raw.get("max"), min_param=low, max_param=high)


def build_spec(doc: Document) -> AudienceSpec:
    """The typed model of a document that passed ``check_document``."""
    data = doc.data
    params = tuple(Param(name, p["type"], p.get("default"), bool(p.get("required")), p.get("minimum"),
                         p.get("maximum"), tuple(p["enum"]) if "enum" in p else None, p.get("description", ""))
                   for name, p in (data.get("params") or {}).items())
    queries = tuple(QuerySpec(q["name"], q["sql"],
                              tuple(Bind(param, b["query"], b["column"]) for param, b in (q.get("bind") or {}).items()),
                              dict(q.get("options") or {}))
                    for q in data["queries"])
    outputs = []
    for o in data["outputs"]:
        test = o.get("test")
        outputs.append(OutputSpec(
            name=o["name"], file=o["file"], segment=o.get("segment"), when_empty=o.get("when_empty", "skip"),
            columns=tuple(_column(h, c) for h, c in o["columns"].items()), order_by=_order(o["order_by"]),
            test=TestSpec(file=test["file"],
                          user_fields=tuple(test.get("user_fields", TestSpec.user_fields)),
                          values=dict(test.get("values") or {}),
                          source_row=test.get("source_row", 1),
                          fallback=dict(test.get("fallback") or {}),
                          when_empty=test.get("when_empty", "skip")) if test else None))
    prioritise = data.get("prioritise") or {}
    return AudienceSpec(
        name=data["name"], description=data["description"].strip(), layer=data["layer"],
        path=doc.path or Path(doc.display),
        display_path=doc.display, params=params, queries=queries, base=data["audience"]["from"],
        joins=tuple(Join(j["query"], tuple(j["using"]), j.get("how", "left"))
                    for j in data["audience"].get("join") or []),
        when_empty=data["audience"].get("when_empty", "write_outputs"),
        outputs=tuple(outputs),
        prioritise_key=tuple(prioritise.get("key", ())), prioritise_order=_order(prioritise.get("order", [])),
        require=tuple(Requirement(r["column"], r.get("blank", "allow")) for r in data.get("require") or []),
        segments=dict(data.get("segments") or {}),
        thresholds=tuple(_threshold(t) for t in data.get("thresholds") or []),
        transform=data.get("transform"), metrics=dict(data.get("metrics") or {}),
        owner=data.get("owner"), tags=tuple(data.get("tags") or ()))


def load_audience(path: Path, project_dir: Path) -> AudienceSpec:
    """Load and validate one audience file, raising its first problem."""
    display = _display(path, project_dir)
    doc = load(path, display)
    problems = check_document(doc, project_dir / "sql")
    if problems:
        raise first_of(problems)
    return build_spec(doc)


def _display(path: Path, project_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        return str(path)


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")   # no dots, separators or selector syntax
TESTS_SUFFIX = ".tests.yaml"   # audiences/<name>.tests.yaml holds the audience's test cases, not an audience


def audience_files(project_dir: Path) -> list[Path]:
    """Every audience YAML in the project, sorted by name (test-case files beside them excluded)."""
    folder = project_dir / "audiences"
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in {".yaml", ".yml"}
                  and not p.name.endswith(TESTS_SUFFIX)) if folder.is_dir() else []


def named_audience_files(project_dir: Path, selectors: Sequence[str]) -> list[Path] | None:
    """The one file of each selector when every selector is a plain audience name; else None."""
    if not selectors or any(not _PLAIN_NAME.fullmatch(s) for s in selectors):
        return None
    folder = project_dir / "audiences"
    paths: list[Path] = []
    for name in dict.fromkeys(selectors):
        found = [p for p in (folder / f"{name}.yaml", folder / f"{name}.yml") if p.is_file()]
        if len(found) != 1:
            return None   # missing (the full load says "did you mean") or ambiguous (it says "duplicate")
        paths.append(found[0])
    return paths


def test_case_files(project_dir: Path) -> list[Path]:
    """Every ``audiences/*.tests.yaml`` file, sorted by name."""
    folder = project_dir / "audiences"
    return sorted(folder.glob(f"*{TESTS_SUFFIX}")) if folder.is_dir() else []


def load_project_audiences(project_dir: Path) -> list[AudienceSpec]:
    """All audiences of the project (raises the first invalid one)."""
    specs = [load_audience(p, project_dir) for p in audience_files(project_dir)]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"duplicate audience name {spec.name!r} (also in {seen[spec.name]})",
                            location=load(spec.path, spec.display_path).locate(("name",)))
        seen[spec.name] = spec.display_path
    return specs
