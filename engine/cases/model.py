"""Typed audience test cases, as read from ``audiences/<name>.tests.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import SourceLocation


@dataclass(frozen=True)
class TestCase:
    """One case: the app rows it starts from and the rows each output must hold."""

    __test__ = False  # not a pytest class

    audience: str
    name: str
    location: SourceLocation
    as_of: datetime
    params: dict[str, Any] = field(default_factory=dict)
    fixtures: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    expect: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.audience}: {self.name}"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case; ``problems`` are readable diff blocks, empty when it passed."""

    case: TestCase
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.case.audience,
            "case": self.case.name,
            "location": str(self.case.location),
            "ok": self.ok,
            "problems": list(self.problems),
            "seconds": round(self.seconds, 3),
        }
