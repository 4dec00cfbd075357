"""Running a real project audience against a hand-built database and reading its CSVs."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import api
from engine.config import resolve
from engine.pipeline import RunResult

PROJECT = Path(__file__).resolve().parents[2]


def run_audience(dsn: str, name: str, as_of: datetime, out: Path, **variables: Any) -> RunResult:
    settings = resolve({"source_dsn": dsn, "output_dir": out, "project_dir": PROJECT}, env={})
    [result] = api.run(settings, selectors=[name], as_of=as_of, variables=variables, record=False)
    return result


def read_csv(result: RunResult, name: str, *, test: bool = False) -> list[dict[str, str]] | None:
    """Rows of an output as dicts, or None when the file was not written."""
    entry = next(o for o in result.manifest.outputs if o.name == name and o.is_test == test)
    if entry.status != "written":
        return None
    raw = (result.run_dir / entry.file).read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def header(result: RunResult, name: str, *, test: bool = False) -> list[str]:
    entry = next(o for o in result.manifest.outputs if o.name == name and o.is_test == test)
    first_line = (result.run_dir / entry.file).read_bytes().split(b"\r\n", 1)[0]
    return first_line.decode().split(",")
