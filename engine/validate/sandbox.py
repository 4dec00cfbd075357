"""``engine validate``: segment, threshold-free metric and transform SQL stays inside DuckDB's sandbox.

A run refuses these too (``engine.transform.sandbox``); validate says where, before a run: a
fragment that is more than one expression or query, and any file-reading function (DuckDB's
external access is off at run time, so such a call can only fail; it is also how a secret
file would be read into a manifest if the sandbox were ever loosened).
"""

from __future__ import annotations

from typing import Iterator

from engine.documents import Document, KeyPath
from engine.schedules.marks import value_location
from engine.spec.model import AudienceSpec
from engine.transform.sandbox import SandboxError, check_fragment, file_functions
from engine.validate.findings import Findings


def _fragments(spec: AudienceSpec) -> Iterator[tuple[str, str, KeyPath, bool]]:
    for name, sql in spec.segments.items():
        yield f"segment {name!r}", sql, ("segments", name), True
    for name, sql in spec.metrics.items():
        yield f"metric {name!r}", sql, ("metrics", name), False


def check_sandbox(findings: Findings, doc: Document, spec: AudienceSpec, transform: str | None) -> None:
    """Report one-statement and file-access problems of ``spec``'s DuckDB SQL at their YAML/SQL place."""
    items = list(_fragments(spec))
    for what, sql, path, expression in items:
        loc = value_location(doc, path)
        try:
            check_fragment(sql, what, expression=expression)
        except SandboxError as err:
            findings.add("sql/one-statement", f"{err.message} (audience {spec.name!r})", path=loc.file,
                         line=loc.line, col=loc.col, key_path=loc.key_path, hint=err.hint)
        for name in file_functions(sql):
            findings.add("sql/file-access", f"{what} uses {name}: spec SQL may not read or write files "
                         f"(audience {spec.name!r})", path=loc.file, line=loc.line, col=loc.col,
                         key_path=loc.key_path, hint="DuckDB runs spec SQL with external access disabled")
    if transform is None:
        return
    where = f"sql/{spec.transform}"
    try:
        check_fragment(transform, "transform SQL", expression=False)
    except SandboxError as err:
        findings.add("sql/one-statement", f"{err.message} (audience {spec.name!r})", path=where, hint=err.hint)
    for name in file_functions(transform):
        findings.add("sql/file-access", f"transform SQL uses {name}: spec SQL may not read or write files "
                     f"(audience {spec.name!r})", path=where,
                     hint="DuckDB runs spec SQL with external access disabled")
