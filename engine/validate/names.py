"""Names that must not clash: audience names across files, and the CSV file names runs write.

A file-name pattern may use ``{timestamp}`` and the audience's params (``{product_id:.8}``);
two patterns collide when they differ only in their fields (or in letter case: macOS and
Windows disks ignore it). Within an audience that overwrites a file of the same run (an
error); across audiences the run folders differ, so it is a warning: a shared download
folder, like the original's generated_csvs, would mix them up.
"""

from __future__ import annotations

import difflib
import string
from typing import Sequence

from engine.documents import Document, KeyPath
from engine.schedules.marks import value_location
from engine.spec.model import AudienceSpec
from engine.validate.audiences import AudienceEntry
from engine.validate.findings import Findings
from engine.validate.render import AS_OF, sample_values

Pattern = tuple[str, str, KeyPath, str]  # (audience, pattern, key path, what writes it)


def _fields_problem(spec: AudienceSpec, pattern: str) -> tuple[str, str | None, str] | None:
    """(message, hint, offending text) for a pattern whose fields cannot be filled, else None."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as err:
        return f"file name {pattern!r} is not a valid pattern: {err}", "write literal braces as {{ and }}", "{"
    values = {**sample_values(spec), "timestamp": AS_OF.strftime("%Y%m%d_%H%M%S")}
    for _, field, spec_text, _ in parts:
        if field is None:
            continue
        if field not in values or field == "as_of":
            known = ["timestamp", *sorted(p.name for p in spec.params)]
            close = difflib.get_close_matches(field, known, n=1)
            return (
                f"file name uses {{{field}}}, which is neither {{timestamp}} nor a param of {spec.name!r}",
                (f"did you mean {{{close[0]}}}? " if close else "")
                + "available: "
                + ", ".join("{" + k + "}" for k in known),
                "{" + field,
            )
        try:
            format(values[field], spec_text or "")
        except (ValueError, TypeError) as err:
            return f"file name field {{{field}:{spec_text}}} cannot be formatted: {err}", None, "{" + field
    return None


def _shape(pattern: str) -> str:
    try:
        return "".join(
            literal + ("\0" if field is not None else "") for literal, field, _, _ in string.Formatter().parse(pattern)
        ).lower()
    except ValueError:
        return pattern.lower()


def _patterns(doc: Document, spec: AudienceSpec) -> list[Pattern]:
    out: list[Pattern] = []
    for o, output in enumerate(spec.outputs):
        out.append((spec.name, output.file, ("outputs", o, "file"), f"output {output.name!r}"))
        if output.test is not None:
            out.append(
                (
                    spec.name,
                    output.test.file,
                    ("outputs", o, "test", "file"),
                    f"the TEST file of output {output.name!r}",
                )
            )
    return out


def check_names(findings: Findings, entries: Sequence[AudienceEntry], selected: set[str] | None) -> None:
    """Duplicate audience names, unfillable file-name patterns and colliding file names."""
    by_name: dict[str, AudienceEntry] = {}
    for entry in entries:
        first = by_name.setdefault(entry.name, entry)
        if first is not entry and entry.doc is not None and (selected is None or entry.name in selected):
            loc = entry.doc.locate(("name",))
            findings.add(
                "names/duplicate-audience",
                f"audience name {entry.name!r} is also used by {first.display}",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                hint="audience names must be unique",
            )
    seen: dict[str, Pattern] = {}
    for entry in entries:
        if entry.spec is None or entry.doc is None:
            continue
        mine = selected is None or entry.name in selected
        for audience, pattern, path, label in _patterns(entry.doc, entry.spec):
            if not mine:
                seen.setdefault(_shape(pattern), (audience, pattern, path, label))
                continue
            problem = _fields_problem(entry.spec, pattern)
            if problem:
                message, hint, text = problem
                loc = value_location(entry.doc, path, max(pattern.find(text), 0))
                findings.add("names/file-pattern", message, path=loc.file, line=loc.line, col=loc.col, hint=hint)
                continue
            if path[-2] == "test" and "{timestamp" not in pattern:
                loc = value_location(entry.doc, path)
                findings.add(
                    "names/file-pattern",
                    f"test file name {pattern!r} lacks {{timestamp}}",
                    path=loc.file,
                    line=loc.line,
                    col=loc.col,
                    hint="file names carry the run's timestamp",
                )
            if path[-2] == "test" and ("/" in pattern or "\\" in pattern or not pattern.endswith(".csv")):
                loc = value_location(entry.doc, path)
                findings.add(
                    "names/file-pattern",
                    f"test file name {pattern!r} must be a plain name ending .csv",
                    path=loc.file,
                    line=loc.line,
                    col=loc.col,
                )
            other = seen.setdefault(_shape(pattern), (audience, pattern, path, label))
            if other[2] == path and other[0] == audience:
                continue
            loc = value_location(entry.doc, path)
            if other[0] == audience:
                findings.add(
                    "names/file-collision",
                    f"file name {pattern!r} collides with {other[3]} ({other[1]!r}) of the same run",
                    path=loc.file,
                    line=loc.line,
                    col=loc.col,
                    hint="every output and TEST file of an audience needs its own name",
                )
            else:
                findings.add(
                    "names/file-collision",
                    f"file name {pattern!r} is also written by audience {other[0]!r} ({other[1]!r})",
                    path=loc.file,
                    line=loc.line,
                    col=loc.col,
                    severity="warning",
                    hint="runs have their own folders, but shared downloads would mix them",
                )
