"""The first rows of a written CSV for the report: PII masked, spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path
from typing import Iterable

from engine.push.preview import MASK
from engine.report.model import Sample

# a cell starting with one of these is run as a formula by spreadsheet apps (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(cell: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate with a quote, so it stays text."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def read_sample(path: Path, *, output: str, limit: int, total_rows: int, pii: Iterable[str]) -> Sample:
    """Read the header and first ``limit`` rows; columns named in ``pii`` (any case) are masked."""
    pii_names = {p.lower() for p in pii}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        headers = tuple(next(reader, []))
        masked = tuple(h for h in headers if h.lower() in pii_names)
        rows = tuple(
            tuple(MASK if h in masked and cell else formula_safe(cell) for h, cell in zip(headers, row))
            for row in islice(reader, limit)
        )
    return Sample(output=output, file=path.name, headers=headers, rows=rows, masked=masked, total_rows=total_rows)
