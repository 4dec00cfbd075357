"""Building broken projects from fixtures/base and running the validator on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from engine.config import resolve
from engine.validate.findings import Finding, ValidationReport
from engine.validate.runner import validate_project

HERE = Path(__file__).resolve().parent
BASE = HERE / "fixtures" / "base"
CASES = yaml.safe_load((HERE / "corpus.yaml").read_text(encoding="utf-8"))


def make_project(tmp_path: Path, file: str | None = None, find: str = "", replace: str = "") -> Path:
    """A copy of the base project, with ``find`` (which must occur exactly once) replaced in ``file``."""
    project = tmp_path / "project"
    shutil.copytree(BASE, project)
    if file is not None:
        target = project / file
        text = target.read_text(encoding="utf-8")
        assert text.count(find) == 1, f"{find!r} occurs {text.count(find)} times in {file}"
        target.write_text(text.replace(find, replace), encoding="utf-8")
    return project


def validate(
    project: Path, *select: str, db: bool = False, dsn: str | None = None, strict: bool = False
) -> ValidationReport:
    settings = resolve({"project_dir": project, "source_dsn": dsn}, env={})
    return validate_project(settings, select=select, db=db, cache=False, strict=strict)


def headline(finding: Finding) -> str:
    """The first printed line of a finding."""
    where = ":".join([finding.path] + [str(v) for v in (finding.line, finding.col) if v is not None])
    return f"{where}: {finding.severity}: {finding.message} [{finding.rule}]"
