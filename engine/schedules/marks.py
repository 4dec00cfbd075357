"""Positions inside YAML scalar values, so an error can point at a character of a string.

``Document`` knows where each key starts. For a value written on the same line as
its key (``cron: "30 12 * * *"``, ``title: "..."``) this finds where the text itself starts,
so a caret can sit under the bad cron field or the misspelt ``[[vra:`` of a push title.
Block scalars (``|``, ``>``) and escapes fall back to the key's position: never a wrong line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.documents import Document, KeyPath, format_key_path
from engine.errors import SourceLocation


@lru_cache(maxsize=256)
def _lines(path: Path, mtime_ns: int) -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8").splitlines())


def source_lines(path: Path) -> tuple[str, ...]:
    """The lines of a text file (cached while the file is unchanged)."""
    try:
        return _lines(path, path.stat().st_mtime_ns)
    except (OSError, UnicodeDecodeError):
        return ()


def _value_start(line: str, key_col: int) -> int | None:
    """0-based index where the value of the key starting at ``key_col`` (1-based) begins."""
    i = key_col - 1
    if i >= len(line):
        return None
    if line[i] in "\"'":
        close = line.find(line[i], i + 1)
        if close < 0:
            return None
        i = close + 1
    colon = line.find(":", i)
    if colon < 0:
        return None
    j = colon + 1
    while j < len(line) and line[j] == " ":
        j += 1
    return j if j < len(line) else None


def value_location(doc: Document, key_path: KeyPath, offset: int = 0) -> SourceLocation:
    """Location of character ``offset`` of the string at ``key_path`` (the key itself when unsure)."""
    location = doc.locate(key_path)
    mark = doc.keys.get(tuple(key_path))
    if mark is None or doc.path is None or location.line is None or location.col is None:
        return location
    lines = source_lines(doc.path)
    if mark[0] > len(lines):
        return location
    line = lines[mark[0] - 1]
    start = (mark[1] - 1) if key_path and isinstance(key_path[-1], int) else _value_start(line, mark[1])
    if start is None or start >= len(line) or line[start] in "|>":
        return location
    if line[start] in "\"'":
        prefix = line[start + 1 : start + 1 + offset]
        if "\\" in prefix or line[start] in prefix:
            return SourceLocation(location.file, mark[0], start + 1, format_key_path(key_path))
        start += 1
    if start + offset > len(line):
        offset = 0
    return SourceLocation(location.file, mark[0], start + offset + 1, format_key_path(key_path))
