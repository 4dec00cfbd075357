"""The original scripts' shared runtime (reference 2.0), reproduced for the benchmark baseline.

``execute_query`` opens a new connection for every query, runs it with a dict cursor and
``fetchall``s every row into Python dicts, as ``sql_utils.py`` did with psycopg2's
RealDictCursor (psycopg 3's ``dict_row`` here: the project does not depend on psycopg2;
both build one Python dict per row). Unlike the original, an error raises instead of
printing and returning ``None``: a benchmark must not time a silently empty audience.
CSVs are written with ``csv.DictWriter`` (default dialect, CRLF), as the originals did.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

# The founder test user hard-coded in every original generator (reference 2.0).
TEST_USER: dict[str, str] = {
    "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
    "username": "beems",
    "firstName": "Mbiyimoh",
    "usersize": "13",
    "lastActive": "2025-08-05 20:00:00.000000+00:00",
    "top_target_shoe": 'Air Jordan 1 Retro High OG "Bred Toe"',
    "top_target_shoe_variantid": "sample-variant-id-for-testing",
}


@dataclass(frozen=True)
class Context:
    """What one generator run needs: where the data is, the anchor time, where files go."""

    dsn: str
    as_of: datetime
    out_dir: Path
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timestamp(self) -> str:
        """The file-name timestamp (the original used now(); the anchor keeps runs comparable)."""
        return self.as_of.strftime("%Y%m%d_%H%M%S")


@dataclass
class Written:
    """One CSV a generator wrote: the engine's output name, rows and checksum, to compare."""

    name: str
    path: Path
    rows: int
    is_test: bool
    sha256: str


def execute_query(ctx: Context, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """A new connection per query, dict rows, fetchall (the original ``execute_query``)."""
    conn = psycopg.connect(ctx.dsn, row_factory=dict_row, options="-c timezone=UTC")
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)  # type: ignore[arg-type]  # the baseline's SQL is trusted, like the original
            return cur.fetchall()
    finally:
        conn.close()


def text(value: Any) -> str:
    """How csv.DictWriter printed a value: ``None`` empty, everything else ``str()``."""
    return "" if value is None else str(value)


def ordinal(n: int) -> str:
    """The original's rank words: 1st, 2nd, 3rd, then <n>th (11th, 21th, 22th)."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n, "th")
    return f"{n}{suffix}"


def write_csv(
    ctx: Context,
    name: str,
    file_name: str,
    fieldnames: list[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    is_test: bool = False,
) -> Written:
    """Write rows with csv.DictWriter and return what was written (with its SHA-256)."""
    path = ctx.out_dir / file_name
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: text(row.get(k)) for k in fieldnames})
            count += 1
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Written(name, path, count, is_test, digest)


def test_row(fieldnames: list[str], production: list[dict[str, Any]], user_fields: Iterable[str]) -> dict[str, Any]:
    """The founder combined with the product fields of the first production row (seed 001)."""
    row = dict(production[0]) if production else {}
    for key in user_fields:
        row[key] = TEST_USER.get(key, "")
    return {k: row.get(k, "") for k in fieldnames}
