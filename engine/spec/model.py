"""Typed, frozen model of an audience spec (what the YAML says, after validation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INT4 = (-(2 ** 31), 2 ** 31 - 1)   # an integer param lives in PostgreSQL's int4


class UuidText(str):
    """A param value already checked to be a uuid: bound and read back as ``uuid``, formatted as text."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class Bind:
    """A bound array parameter: the distinct non-null values of ``column`` from an earlier query."""

    param: str
    query: str
    column: str


@dataclass(frozen=True)
class QuerySpec:
    name: str
    sql: str                       # path relative to sql/
    binds: tuple[Bind, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Join:
    query: str
    using: tuple[str, ...]
    how: str = "left"


@dataclass(frozen=True)
class OrderRule:
    column: str
    direction: str = "asc"
    values: tuple[Any, ...] | None = None   # explicit rank: first value sorts first


@dataclass(frozen=True)
class Requirement:
    column: str
    blank: str = "allow"           # reject: empty or whitespace-only text is dropped too


@dataclass(frozen=True)
class Threshold:
    """A minimum/maximum count per segment; ``min_param``/``max_param`` name a param giving the bound."""

    column: str
    segment: str | None = None
    min: float | None = None
    max: float | None = None
    min_param: str | None = None
    max_param: str | None = None

    @property
    def label(self) -> str:
        bounds = " and ".join(b for b in (f">= {self.min:g}" if self.min is not None else "",
                                           f"<= {self.max:g}" if self.max is not None else "") if b)
        return f"{self.segment or 'all'}: {self.column} {bounds}"


@dataclass(frozen=True)
class OutputColumn:
    header: str
    column: str | None = None
    value: Any = None
    format: str = "text"


@dataclass(frozen=True)
class TestSpec:
    file: str
    user_fields: tuple[str, ...] = ("user_id", "username", "firstName", "usersize", "lastActive")
    values: dict[str, Any] = field(default_factory=dict)
    source_row: int | None = 1
    fallback: dict[str, Any] = field(default_factory=dict)
    when_empty: str = "skip"


@dataclass(frozen=True)
class OutputSpec:
    name: str
    file: str
    columns: tuple[OutputColumn, ...]
    order_by: tuple[OrderRule, ...]
    segment: str | None = None
    when_empty: str = "skip"
    test: TestSpec | None = None


@dataclass(frozen=True)
class AudienceSpec:
    name: str
    description: str
    layer: int
    path: Path
    display_path: str
    params: tuple[Param, ...]
    queries: tuple[QuerySpec, ...]
    base: str
    joins: tuple[Join, ...]
    outputs: tuple[OutputSpec, ...]
    when_empty: str = "write_outputs"
    prioritise_key: tuple[str, ...] = ()
    prioritise_order: tuple[OrderRule, ...] = ()
    require: tuple[Requirement, ...] = ()
    segments: dict[str, str] = field(default_factory=dict)
    thresholds: tuple[Threshold, ...] = ()
    transform: str | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    owner: str | None = None
    tags: tuple[str, ...] = ()

    def query(self, name: str) -> QuerySpec:
        return next(q for q in self.queries if q.name == name)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
