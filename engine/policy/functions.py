"""The refused-function policy (``refused_functions.yaml``): one list, read once, matched by name.

The checks that apply it walk a parse tree made by the parser that runs the SQL (PostgreSQL's
through pglast, DuckDB's own); this module only answers "is this function name refused, and why".
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

Dialect = Literal["postgres", "duckdb"]
POLICY_FILE = Path(__file__).with_name("refused_functions.yaml")


@dataclass(frozen=True)
class Refusal:
    """Why a function is refused: its family and the reason the policy file gives."""

    function: str
    family: str
    reason: str

    def message(self, what: str) -> str:
        return f"{what} calls {self.function}(), refused ({self.family}): {self.reason}"


@dataclass(frozen=True)
class _Entry:
    pattern: str
    family: str
    reason: str


@lru_cache(maxsize=None)
def _entries(dialect: Dialect) -> tuple[_Entry, ...]:
    document = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    return tuple(
        _Entry(name.lower(), family["family"], family["reason"])
        for family in document[dialect]
        for name in family["names"]
    )


def refusal(dialect: Dialect, function: str) -> Refusal | None:
    """The policy's refusal of ``function`` (its own name, without schema), or None when it may run."""
    name = function.lower()
    for entry in _entries(dialect):
        if fnmatch.fnmatchcase(name, entry.pattern):
            return Refusal(function, entry.family, entry.reason)
    return None
