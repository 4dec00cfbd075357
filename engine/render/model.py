"""What rendering produces: SQL text, its bound parameters, and the file it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RenderedQuery:
    """One rendered SQL statement with its bound parameters and the file it came from."""

    name: str
    sql: str
    params: dict[str, Any]
    origin: str
