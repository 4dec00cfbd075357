"""Read every audience file, keep every problem, and pick the audiences ``--select`` names.

Unlike ``load_project_audiences`` (which stops at the first bad file) this goes on: a file
with problems is reported and skipped by the later checks, the others are still checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from engine.documents import Document, KnownValid, load
from engine.errors import SpecError
from engine.selection import select_audiences
from engine.spec.loader import audience_files, build_spec, check_document
from engine.spec.model import AudienceSpec
from engine.validate.findings import Findings


@dataclass(frozen=True)
class AudienceEntry:
    """One audience file: its parsed document and, when it is valid, its typed spec."""

    path: Path
    display: str
    doc: Document | None
    spec: AudienceSpec | None

    @property
    def name(self) -> str:
        data = self.doc.data if self.doc else None
        name = data.get("name") if isinstance(data, dict) else None
        return name if isinstance(name, str) else self.path.stem

    @property
    def layer(self) -> int | None:
        data = self.doc.data if self.doc else None
        layer = data.get("layer") if isinstance(data, dict) else None
        return layer if isinstance(layer, int) else None

    @property
    def tags(self) -> tuple[str, ...]:
        data = self.doc.data if self.doc else None
        tags = data.get("tags") if isinstance(data, dict) else None
        return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def _rule(problem: SpecError) -> str:
    """The rule of one of the spec loader's problems (it reports them as plain SpecErrors)."""
    message = problem.message
    key_path = problem.location.key_path if problem.location else None
    if message.startswith("unknown key"):
        return "yaml/unknown-key"
    if "file not found" in message:
        return "sql/missing-file"
    if message.startswith(("duplicate", "audience name")):
        return "names/duplicate"
    if message.startswith((f"{key_path}:", "(top level):")):
        return "yaml/schema"
    return "yaml/reference"


def load_entries(project_dir: Path, findings: Findings, known_valid: KnownValid | None = None) -> list[AudienceEntry]:
    """Every audience file of the project, each with its problems recorded in ``findings``."""
    entries = []
    for path in audience_files(project_dir):
        display = findings.relative(str(path))
        try:
            doc = load(path, display)
        except SpecError as err:
            findings.add_error(err, "yaml/syntax", default_path=display)
            entries.append(AudienceEntry(path, display, None, None))
            continue
        problems = check_document(doc, project_dir / "sql", known_valid=known_valid)
        for problem in problems:
            findings.add_error(problem, _rule(problem), default_path=display)
        entries.append(AudienceEntry(path, display, doc, None if problems else build_spec(doc)))
    return entries


def select_entries(entries: Sequence[AudienceEntry], selectors: Sequence[str]) -> list[AudienceEntry]:
    """The entries matching any selector (names, ``layer:N``, ``tag:T``); all when there are none."""
    return select_audiences(entries, selectors, hint="select audience names, layer:N, tag:T or rule:FAMILY")
