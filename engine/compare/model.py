"""What ``engine diff`` reports, per output file and overall."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FileDiff:
    """One output present on both sides: size change and rows added / removed / changed by key."""

    name: str  # the file name without its timestamp
    a_file: str
    b_file: str
    key: str
    rows_a: int
    rows_b: int
    added: int
    removed: int
    changed: int
    changed_columns: dict[str, int] = field(default_factory=dict)
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)  # added/removed/changed -> keys

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.columns_added or self.columns_removed)

    @property
    def size_change_pct(self) -> float | None:
        return None if not self.rows_a else round(100.0 * (self.rows_b - self.rows_a) / self.rows_a, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "size_change": self.rows_b - self.rows_a,
            "size_change_pct": self.size_change_pct,
            "same": self.same,
        }


@dataclass(frozen=True)
class DiffReport:
    """Both sides and every matched or unmatched output."""

    a: Path
    b: Path
    files: tuple[FileDiff, ...]
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()

    @property
    def same(self) -> bool:
        return all(f.same for f in self.files) and not self.only_in_a and not self.only_in_b

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": str(self.a),
            "b": str(self.b),
            "same": self.same,
            "files": [f.as_dict() for f in self.files],
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
        }
