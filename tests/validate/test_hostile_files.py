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
    ("sql/mini/activity.sql", None),  # line 1 of a SQL file: checked below against its own first line
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
    if expected is None:  # SQL: the render check reports it for the query that uses the file
        expected = (
            f"{file}:1:{col}: error: not UTF-8: byte 0xe9 cannot be decoded "
            "(audience 'mini', query 'activity') [render/error]"
        )
    assert expected in headlines, headlines
    assert col == 17 or file.endswith(".sql")  # "name: mini" / "templates:" / "version: 1" + " # caf" -> 17


BOMB = "lol0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"lol{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
    f"*a{i - 1}, *a{i - 1}]\n"
    for i in range(1, 9)
)  # 10^9 values once expanded, 90 in the file


@pytest.mark.parametrize(
    ("file", "rule"),
    [
        ("audiences/mini.yaml", "yaml/syntax"),
        ("schedules.yaml", "schedules/syntax"),
        ("cadence.yaml", "cadence/syntax"),
    ],
)
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
    assert elapsed < 30  # generous for a shared CI box; unbounded it took > 60 s and 4.5 GB


def test_engine_list_says_where_without_a_traceback(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    _spoil(project / "audiences" / "mini.yaml")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "engine"), "--project-dir", str(project), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "audiences/mini.yaml:1:17: error: not UTF-8: byte 0xe9 cannot be decoded"
    assert "Traceback" not in proc.stderr


# issue 22 item 6: a NUL in a YAML file, as a raw byte (the YAML reader refuses it, but named no line) or as a
# "\0" escape (a value PostgreSQL, file names and pushes cannot carry: a schedules.yaml var gave a traceback)
NUL_FILES = [
    ("audiences/mini.yaml", "yaml/syntax"),
    ("schedules.yaml", "schedules/syntax"),
    ("cadence.yaml", "cadence/syntax"),
    ("audiences/mini.tests.yaml", "yaml/test-case"),
]
MINI_TESTS = "cases:\n  - name: one\n    fixtures: {}\n"


def _add_nul(path: Path, form: str) -> tuple[int, int]:
    """Append a key whose value holds a NUL; return the line and column the finding must name."""
    text = path.read_text(encoding="utf-8") if path.exists() else MINI_TESTS
    text = text if text.endswith("\n") else text + "\n"
    line = text.count("\n") + 1
    if form == "byte":
        path.write_bytes(text.encode() + b'zz_nul: "a\x00b"\n')
        return line, len('zz_nul: "a') + 1  # the byte itself
    path.write_bytes(text.encode() + b'zz_nul: "a\\0b"\n')
    return line, len("zz_nul: ") + 1  # the value holding it


@pytest.mark.parametrize("form", ["byte", "escape"])
@pytest.mark.parametrize(("file", "rule"), NUL_FILES, ids=[row[0] for row in NUL_FILES])
def test_nul_in_a_yaml_file_is_a_located_finding(tmp_path: Path, file: str, rule: str, form: str) -> None:
    project = make_project(tmp_path)
    line, col = _add_nul(project / file, form)
    findings = [f for f in validate(project).findings if f.path == file and "NUL" in f.message]
    assert [(f.rule, f.line, f.col) for f in findings] == [(rule, line, col)], [
        headline(f) for f in validate(project).findings
    ]


@pytest.mark.parametrize("form", ["byte", "escape"])
def test_nul_in_engine_yaml_is_a_located_config_error(tmp_path: Path, form: str) -> None:
    from engine.config import resolve  # noqa: PLC0415
    from engine.errors import ConfigError  # noqa: PLC0415

    project = make_project(tmp_path)
    (project / "engine.yaml").write_text("pool_size: 4\n", encoding="utf-8")
    line, col = _add_nul(project / "engine.yaml", form)
    with pytest.raises(ConfigError, match="NUL") as caught:
        resolve(project_dir=project, env={})
    assert (caught.value.location.file, caught.value.location.line, caught.value.location.col) == (
        str(project / "engine.yaml"),
        line,
        col,
    )


def test_a_schedules_var_holding_nul_is_located_by_every_command(tmp_path: Path) -> None:
    project = make_project(tmp_path, "schedules.yaml", "vars: {lookback_days: 3}", 'vars: {label: "a\\0b"}')
    mini = project / "audiences" / "mini.yaml"
    mini.write_text(
        mini.read_text(encoding="utf-8").replace("params:\n", "params:\n  label: {type: string, default: x}\n", 1),
        encoding="utf-8",
    )
    env = {
        "ENGINE_STATE_DSN": "postgresql://postgres@127.0.0.1:1/none",
        "ENGINE_SOURCE_DSN": "postgresql://postgres@127.0.0.1:1/none",
        "ENGINE_OUTPUT_DIR": str(tmp_path / "out"),
        "ENGINE_CONNECT_RETRIES": "0",
        "PATH": "/usr/bin:/bin",
    }
    engine = str(Path(sys.executable).parent / "engine")
    for args in (["run", "--automation", "daily_mini", "--dry-run"], ["plan"], ["status"], ["trigger", "daily_mini"]):
        proc = subprocess.run(
            [engine, "--project-dir", str(project), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, (args, proc.stderr[-2000:])
        assert proc.stderr.startswith("schedules.yaml:15:") and "NUL" in proc.stderr.splitlines()[0], (
            args,
            proc.stderr,
        )
