"""TEST rows: each configured test user combined with the product fields of one production row."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from engine.spec.model import TestSpec


def source_offset(source_row: int | None, rows: int) -> int | None:
    """The 0-based production row a TEST file borrows its fields from: ``source_row`` is 1-based and
    means the last row when production has fewer; ``None`` when there is no row to borrow."""
    if source_row is None or not rows:
        return None
    return min(source_row, rows) - 1


def test_rows(
    spec: TestSpec,
    headers: Sequence[str],
    source_row: Sequence[str] | None,
    test_users: Sequence[Mapping[str, Any]],
    *,
    production_empty: bool,
) -> list[list[str]] | None:
    """Rows of the TEST file, or ``None`` when it must not be written (empty production, no fallback).

    ``source_row`` is the production row (``spec.source_row``) whose fields fill what the test
    user and the static values do not; with an empty production file the fallback values win.
    """
    fallback: Mapping[str, Any] = {}
    if production_empty:
        if spec.when_empty == "skip":
            return None
        fallback = spec.fallback
    source = dict(zip(headers, source_row)) if source_row is not None else {}
    rows = []
    for user in test_users:
        out = []
        for header in headers:
            if header in fallback:
                value = fallback[header]
            elif header in spec.values:
                value = spec.values[header]
            elif header in spec.user_fields:
                value = user.get(header, "")
            else:
                value = source.get(header, "")
            out.append("" if value is None else str(value))
        rows.append(out)
    return rows
