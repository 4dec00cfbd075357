"""Compare two CSV files row by row through a key column (pure: paths in, FileDiff out).

Rows are matched by the key column; a key that repeats (a user listed once per pair of shoes)
is matched occurrence by occurrence in file order. Changed rows are those whose values differ in
any column both files have. Rows are held as text in memory: fine for audience files, which
are a user list, not a data set.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Iterator

from engine.compare.model import FileDiff
from engine.errors import ConfigError, SourceLocation

EXAMPLES = 5


def _read(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    handle = path.open(encoding="utf-8", newline="")
    reader = csv.reader(handle)
    header = next(reader, [])

    def rows() -> Iterator[list[str]]:
        with handle:
            yield from reader

    return header, rows()


def _keyed(header: list[str], rows: Iterator[list[str]], key: str) -> dict[tuple[str, int], dict[str, str]]:
    index = header.index(key)
    seen: Counter[str] = Counter()
    out: dict[tuple[str, int], dict[str, str]] = {}
    for row in rows:
        value = row[index] if index < len(row) else ""
        out[(value, seen[value])] = dict(zip(header, row))
        seen[value] += 1
    return out


def pick_key(a_header: list[str], b_header: list[str], wanted: str | None, where: str) -> str:
    """The key column: --key when given (it must be in both files), else user_id, else the first column."""
    common = [h for h in a_header if h in b_header]
    if wanted:
        if wanted not in common:
            raise ConfigError(
                f"--key {wanted!r} is not a column of both files",
                location=SourceLocation(where),
                hint=f"common columns: {', '.join(common) or 'none'}",
            )
        return wanted
    if "user_id" in common:
        return "user_id"
    if not common:
        raise ConfigError("the two files share no column", location=SourceLocation(where))
    return common[0]


def _label(key: tuple[str, int]) -> str:
    return key[0] if key[1] == 0 else f"{key[0]} (#{key[1] + 1})"


def diff_files(name: str, a: Path, b: Path, *, key: str | None = None) -> FileDiff:
    """Compare the file ``a`` with ``b`` (``name`` is what both are called without their timestamp)."""
    a_header, a_rows = _read(a)
    b_header, b_rows = _read(b)
    column = pick_key(a_header, b_header, key, str(b))
    old, new = _keyed(a_header, a_rows, column), _keyed(b_header, b_rows, column)
    common = [h for h in a_header if h in b_header]
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    changed_columns: Counter[str] = Counter()
    changed: list[tuple[str, int]] = []
    for k in new.keys() & old.keys():
        differing = [c for c in common if old[k].get(c) != new[k].get(c)]
        if differing:
            changed.append(k)
            changed_columns.update(differing)
    changed.sort()
    return FileDiff(
        name=name,
        a_file=str(a),
        b_file=str(b),
        key=column,
        rows_a=len(old),
        rows_b=len(new),
        added=len(added),
        removed=len(removed),
        changed=len(changed),
        changed_columns=dict(sorted(changed_columns.items())),
        columns_added=tuple(h for h in b_header if h not in a_header),
        columns_removed=tuple(h for h in a_header if h not in b_header),
        examples={
            "added": tuple(_label(k) for k in added[:EXAMPLES]),
            "removed": tuple(_label(k) for k in removed[:EXAMPLES]),
            "changed": tuple(
                f"{_label(k)}: "
                + ", ".join(
                    f"{c} {old[k].get(c)!r} -> {new[k].get(c)!r}" for c in common if old[k].get(c) != new[k].get(c)
                )
                for k in changed[:EXAMPLES]
            ),
        },
    )
