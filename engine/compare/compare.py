"""Diff two sides: match their CSVs by name without timestamp and compare each pair."""

from __future__ import annotations

from pathlib import Path

from engine.compare.csvdiff import diff_files
from engine.compare.model import DiffReport
from engine.compare.sources import csv_files, resolve_side


def diff_runs(a_ref: str, b_ref: str, *, output_root: Path, key: str | None = None) -> DiffReport:
    """Compare A (before) with B (after): each run id or folder of CSVs."""
    a, b = resolve_side(a_ref, output_root), resolve_side(b_ref, output_root)
    a_files, b_files = csv_files(a), csv_files(b)
    files = tuple(
        diff_files(name, a_files[name], b_files[name], key=key) for name in sorted(a_files.keys() & b_files.keys())
    )
    return DiffReport(
        a=a,
        b=b,
        files=files,
        only_in_a=tuple(sorted(a_files.keys() - b_files.keys())),
        only_in_b=tuple(sorted(b_files.keys() - a_files.keys())),
    )
