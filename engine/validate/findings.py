"""What ``engine validate`` reports: located findings, each under a rule, and the report of a run.

Rules are ``family/name`` (``yaml/unknown-key``, ``columns/unknown-column``, ``lint/LT01``);
``--select rule:FAMILY`` or ``rule:FAMILY/NAME`` keeps a subset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EngineError

FAMILIES = (
    "yaml",
    "sql",
    "render",
    "catalog",
    "lint",
    "columns",
    "templates",
    "schedules",
    "cadence",
    "names",
    "db",
    "conversions",
)


@dataclass(frozen=True)
class Finding:
    """One problem at ``path:line:col`` (path relative to the project root)."""

    path: str
    line: int | None
    col: int | None
    severity: str  # error | warning
    message: str
    rule: str
    hint: str | None = None
    key_path: str | None = None

    @property
    def family(self) -> str:
        return self.rule.split("/", 1)[0]

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.line or 0, self.col or 0, self.rule, self.message)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Findings:
    """Collects findings once each (a SQL file shared by audiences reports a problem once)."""

    project_dir: Path
    items: dict[tuple[Any, ...], Finding] = field(default_factory=dict)

    def relative(self, file: str) -> str:
        path = Path(file)
        if path.is_absolute():
            try:
                return str(path.resolve().relative_to(self.project_dir.resolve()))
            except ValueError:
                return file
        return file

    def add(
        self,
        rule: str,
        message: str,
        *,
        path: str,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
        severity: str = "error",
        key_path: str | None = None,
    ) -> None:
        finding = Finding(self.relative(path), line, col, severity, message, rule, hint, key_path)
        self.items.setdefault(finding.sort_key(), finding)

    def add_error(self, err: EngineError, rule: str, *, default_path: str, severity: str = "error") -> None:
        """Record an ``EngineError`` at its own location (``default_path`` when it has none)."""
        loc = err.location
        self.add(
            rule,
            err.message,
            path=loc.file if loc else default_path,
            line=loc.line if loc else None,
            col=loc.col if loc else None,
            hint=err.hint,
            severity=severity,
            key_path=loc.key_path if loc else None,
        )

    def sorted(self) -> list[Finding]:
        return sorted(self.items.values(), key=Finding.sort_key)


@dataclass(frozen=True)
class ValidationReport:
    """Every finding of one validation run, and what was checked."""

    findings: tuple[Finding, ...]
    files: int
    seconds: float
    checked: tuple[str, ...] = FAMILIES

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "files": self.files,
            "seconds": round(self.seconds, 3),
            "checked": list(self.checked),
            "findings": [f.as_dict() for f in self.findings],
        }
