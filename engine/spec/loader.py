"""Load audience YAML files: syntax, JSON Schema, cross-references, then the typed model.

``check_document`` returns every problem found (``engine validate`` prints them all);
``load_audience`` raises the first one, for commands that just need a usable spec.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter

from engine.documents import Document, KnownValid, load, schema_problems
from engine.errors import SpecError, first_of
from engine.schemagen import build
from engine.spec.model import AudienceSpec
from engine.spec.schema import audience_schema


def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else (f"known: {', '.join(known)}" if known else None)


def _query_problems(doc: Document, spec: AudienceSpec, sql_root: Path) -> list[SpecError]:
    problems: list[SpecError] = []
    names: list[str] = []
    for i, query in enumerate(spec.queries):
        if query.name in names:
            problems.append(
                SpecError(f"duplicate query name {query.name!r}", location=doc.locate(("queries", i, "name")))
            )
        for bind in query.binds:
            if bind.query not in names:
                problems.append(
                    SpecError(
                        f"query {query.name!r} binds {bind.param!r} from {bind.query!r}, which is not an earlier query",
                        location=doc.locate(("queries", i, "bind", bind.param, "query")),
                        hint=_suggest(bind.query, names),
                    )
                )
            if spec.param(bind.param):
                problems.append(
                    SpecError(
                        f"bound array {bind.param!r} shadows the audience param of the same name",
                        location=doc.locate(("queries", i, "bind", bind.param)),
                    )
                )
        names.append(query.name)
        if not (sql_root / query.sql).is_file():
            problems.append(
                SpecError(
                    f"SQL file not found: sql/{query.sql}",
                    location=doc.locate(("queries", i, "sql")),
                    hint="paths are relative to the project's sql/ folder",
                )
            )
    if spec.base not in names:
        problems.append(
            SpecError(
                f"audience.from names unknown query {spec.base!r}",
                location=doc.locate(("audience", "from")),
                hint=_suggest(spec.base, names),
            )
        )
    for j, join in enumerate(spec.joins):
        if join.query not in names:
            problems.append(
                SpecError(
                    f"audience.join names unknown query {join.query!r}",
                    location=doc.locate(("audience", "join", j, "query")),
                    hint=_suggest(join.query, names),
                )
            )
    return problems


def _output_problems(doc: Document, spec: AudienceSpec) -> list[SpecError]:
    problems: list[SpecError] = []
    segments = list(spec.segments)
    for t, threshold in enumerate(spec.thresholds):
        if threshold.segment and threshold.segment not in segments:
            problems.append(
                SpecError(
                    f"threshold names unknown segment {threshold.segment!r}",
                    location=doc.locate(("thresholds", t, "segment")),
                    hint=_suggest(threshold.segment, segments),
                )
            )
    outputs: list[str] = []
    for o, output in enumerate(spec.outputs):
        if output.name in outputs:
            problems.append(
                SpecError(f"duplicate output name {output.name!r}", location=doc.locate(("outputs", o, "name")))
            )
        outputs.append(output.name)
        if output.segment and output.segment not in segments:
            problems.append(
                SpecError(
                    f"output {output.name!r} names unknown segment {output.segment!r}",
                    location=doc.locate(("outputs", o, "segment")),
                    hint=_suggest(output.segment, segments),
                )
            )
        if "{timestamp}" not in output.file:
            problems.append(
                SpecError(
                    f"output file name {output.file!r} lacks {{timestamp}}",
                    location=doc.locate(("outputs", o, "file")),
                    hint="file names carry the run's timestamp so runs never overwrite",
                )
            )
    return problems


def _param_problems(doc: Document, spec: AudienceSpec) -> list[SpecError]:
    problems: list[SpecError] = []
    names = [p.name for p in spec.params]
    for t, threshold in enumerate(spec.thresholds):
        for bound, name in (("min", threshold.min_param), ("max", threshold.max_param)):
            param = spec.param(name) if name else None
            if name and param is None:
                problems.append(
                    SpecError(
                        f"threshold {bound} names unknown param {name!r}",
                        location=doc.locate(("thresholds", t, bound)),
                        hint=_suggest(name, names),
                    )
                )
            elif param and param.type not in {"integer", "number"}:
                problems.append(
                    SpecError(
                        f"threshold {bound} names param {name!r} of type {param.type}, not a number",
                        location=doc.locate(("thresholds", t, bound)),
                        hint="declare it with type: integer or type: number",
                    )
                )
    for param in spec.params:
        if param.default is None and not param.required:
            problems.append(
                SpecError(
                    f"param {param.name!r} has no default and is not required",
                    location=doc.locate(("params", param.name)),
                    hint="give it a default or mark it required: true",
                )
            )
    return problems


def check_document(doc: Document, sql_root: Path, *, known_valid: KnownValid | None = None) -> list[SpecError]:
    """Every schema and reference problem in one parsed audience document (``known_valid``: see schema_problems)."""
    if not isinstance(doc.data, dict):
        return [SpecError("an audience file must be a mapping", location=doc.locate(()))]
    problems = schema_problems(doc, audience_schema(), error=SpecError, known_valid=known_valid)
    if problems:
        return problems
    spec = build_spec(doc)
    problems = _query_problems(doc, spec, sql_root) + _output_problems(doc, spec)
    if spec.transform and not (sql_root / spec.transform).is_file():
        problems.append(
            SpecError(f"transform SQL file not found: sql/{spec.transform}", location=doc.locate(("transform",)))
        )
    problems += _param_problems(doc, spec)
    expected = Path(doc.display).stem if doc.path is None else doc.path.stem
    if spec.name != expected:
        problems.append(
            SpecError(
                f"audience name {spec.name!r} differs from its file name {expected!r}",
                location=doc.locate(("name",)),
                hint=f"rename the file or set name: {expected}",
            )
        )
    return problems


_SPEC = TypeAdapter(AudienceSpec)


def build_spec(doc: Document) -> AudienceSpec:
    """The typed model of a document that passed the schema (the model applies every default)."""
    return build(
        _SPEC, doc, {**doc.data, "path": doc.path or Path(doc.display), "display_path": doc.display}, error=SpecError
    )


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


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")  # no dots, separators or selector syntax
TESTS_SUFFIX = ".tests.yaml"  # audiences/<name>.tests.yaml holds the audience's test cases, not an audience


def audience_files(project_dir: Path) -> list[Path]:
    """Every audience YAML in the project, sorted by name (test-case files beside them excluded)."""
    folder = project_dir / "audiences"
    return (
        sorted(p for p in folder.glob("*.y*ml") if p.suffix in {".yaml", ".yml"} and not p.name.endswith(TESTS_SUFFIX))
        if folder.is_dir()
        else []
    )


def named_audience_files(project_dir: Path, selectors: Sequence[str]) -> list[Path] | None:
    """The one file of each selector when every selector is a plain audience name; else None."""
    if not selectors or any(not _PLAIN_NAME.fullmatch(s) for s in selectors):
        return None
    folder = project_dir / "audiences"
    paths: list[Path] = []
    for name in dict.fromkeys(selectors):
        found = [p for p in (folder / f"{name}.yaml", folder / f"{name}.yml") if p.is_file()]
        if len(found) != 1:
            return None  # missing (the full load says "did you mean") or ambiguous (it says "duplicate")
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
            raise SpecError(
                f"duplicate audience name {spec.name!r} (also in {seen[spec.name]})",
                location=load(spec.path, spec.display_path).locate(("name",)),
            )
        seen[spec.name] = spec.display_path
    return specs
