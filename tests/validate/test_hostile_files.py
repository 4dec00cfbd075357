"""Hostile or careless project files (issue #11): bytes that are not UTF-8 and YAML alias bombs.

Each row breaks one file of fixtures/base; the finding must name the file, line and column and
`engine validate` must finish quickly instead of tracebacking or eating memory.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.validate.helpers import headline, make_project, validate

# byte 0xe9 (Latin-1 "é") written after the first line's text: line 1, the column after the text
NOT_UTF8 = [
    # file, first line as the fixture has it -> column of the bad byte (len(line) + len(" # caf") + 1)
    ("audiences/mini.yaml", "audiences/mini.yaml:1:17: error: not UTF-8: byte 0xe9 cannot be decoded [yaml/syntax]"),
    ("schedules.yaml", "schedules.yaml:1:17: error: not UTF-8: byte 0xe9 cannot be decoded [schedules/syntax]"),
    ("cadence.yaml", "cadence.yaml:1:17: error: not UTF-8: byte 0xe9 cannot be decoded [cadence/syntax]"),
    ("sql/mini/activity.sql", None),   # line 1 of a SQL file: checked below against its own first line
]


def _spoil(path: Path) -> int:
    """Append ' # caf\\xe9' to the first line; return the 1-based column of the bad byte."""
    data = path.read_bytes()
    end = data.index(b"\n")
    path.write_bytes(data[:end] + b" # caf\xe9" + data[end:])
    return end + len(b" # caf") + 1


@pytest.mark.parametrize(("file", "expected"), NOT_UTF8, ids=[row[0] for row in NOT_UTF8])
def test_not_utf8_is_a_located_finding(tmp_path: Path, file: str, expected: str | None) -> None:
    project = make_project(tmp_path)
    col = _spoil(project / file)
    headlines = [headline(f) for f in validate(project).findings]
    if expected is None:   # SQL: the render check reports it for the query that uses the file
        expected = (f"{file}:1:{col}: error: not UTF-8: byte 0xe9 cannot be decoded "
                    "(audience 'mini', query 'activity') [render/error]")
    assert expected in headlines, headlines
    assert col == 17 or file.endswith(".sql")   # "name: mini" / "templates:" / "version: 1" + " # caf" -> 17


BOMB = "lol0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"lol{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
    f"*a{i - 1}, *a{i - 1}]\n" for i in range(1, 9))   # 10^9 values once expanded, 90 in the file


@pytest.mark.parametrize(("file", "rule"), [("audiences/mini.yaml", "yaml/syntax"),
                                            ("schedules.yaml", "schedules/syntax"),
                                            ("cadence.yaml", "cadence/syntax")])
def test_alias_bomb_is_refused_quickly(tmp_path: Path, file: str, rule: str) -> None:
    project = make_project(tmp_path)
    path = project / file
    lines = path.read_text(encoding="utf-8").count("\n")
    path.write_text(path.read_text(encoding="utf-8") + BOMB, encoding="utf-8")
    started = time.perf_counter()
    findings = validate(project).findings
    elapsed = time.perf_counter() - started
    bomb = [f for f in findings if f.rule == rule]
    assert len(bomb) == 1 and "aliases expand to more than 10,000 values" in bomb[0].message
    # located inside the bomb (the appended lines), not at the top of the file
    assert bomb[0].path == file and bomb[0].line is not None and bomb[0].line > lines
    assert elapsed < 30     # generous for a shared CI box; unbounded it took > 60 s and 4.5 GB


def test_engine_list_says_where_without_a_traceback(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    _spoil(project / "audiences" / "mini.yaml")
    proc = subprocess.run([str(Path(sys.executable).parent / "engine"), "--project-dir", str(project), "list"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "audiences/mini.yaml:1:17: error: not UTF-8: byte 0xe9 cannot be decoded"
    assert "Traceback" not in proc.stderr
