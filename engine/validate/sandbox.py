"""``engine validate``: segment, threshold-free metric and transform SQL stays inside DuckDB's sandbox.

A run refuses these too (``engine.transform.sandbox``, on DuckDB's own parse tree); validate says
where, before a run: a fragment that is more than one expression or SELECT (``sql/one-statement``),
and a call the function policy refuses or a file read by name (``sql/refused-function``).
"""

from __future__ import annotations

from typing import Iterator

from engine.documents import Document, KeyPath
from engine.schedules.marks import value_location
from engine.spec.model import AudienceSpec
from engine.transform.sandbox import SandboxError, check_fragment
from engine.validate.findings import Findings


def _fragments(spec: AudienceSpec) -> Iterator[tuple[str, str, KeyPath, bool]]:
    for name, sql in spec.segments.items():
        yield f"segment {name!r}", sql, ("segments", name), True
    for name, sql in spec.metrics.items():
        yield f"metric {name!r}", sql, ("metrics", name), False


def check_sandbox(findings: Findings, doc: Document, spec: AudienceSpec, transform: str | None) -> None:
    """Report shape and policy problems of ``spec``'s DuckDB SQL at their YAML/SQL place."""
    for what, sql, path, expression in _fragments(spec):
        loc = value_location(doc, path)
        try:
            check_fragment(sql, what, expression=expression)
        except SandboxError as err:
            findings.add(
                err.rule,
                f"{err.message} (audience {spec.name!r})",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                key_path=loc.key_path,
                hint=err.hint,
            )
    if transform is None:
        return
    try:
        check_fragment(transform, "transform SQL", expression=False)
    except SandboxError as err:
        findings.add(err.rule, f"{err.message} (audience {spec.name!r})", path=f"sql/{spec.transform}", hint=err.hint)
