"""DuckDB fragments judged on DuckDB's own parse tree, exactly as they are pasted; and the sandbox's walls."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from engine.transform.sandbox import SandboxError, check_fragment, connect

SNEAKY = (
    "(select true as a$$b$)) ; create or replace view audience as select "
    "'ffffffff-ffff-ffff-ffff-ffffffffffff' as user_id, 'INJECTED' as first_name ; "
    "select ((select true as x$b$)"
)


@pytest.mark.parametrize(
    "expression",
    [
        "true",
        "closet_adds >= 2 and first_name is not null",
        "coalesce(x, 0) > (select count(*) from audience)",
        "first_name = 'a;b' -- a note\n",
    ],
)
def test_one_expression_passes_unchanged(expression: str) -> None:
    assert check_fragment(expression, "segment 's'", expression=True) == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (SNEAKY, "more than one statement"),  # the red team's case 1
        ("true) ; copy (select 1) to 'x.csv' ; select (true", "more than one statement"),
        ("1) as a, (2", "must be one SQL expression"),
        ("true) from audience where (true", "must be one SQL expression"),
        ("true) union select (false", "must be one SQL expression"),
        ("true -- ) or (false", "syntax error"),  # a comment cannot eat the closing parenthesis
        ("length(read_text('/etc/passwd')) > 0", "refused (file)"),
        ("getenv('HOME') is not null", "refused (environment)"),
    ],
)
def test_anything_but_one_expression_is_refused(expression: str, message: str) -> None:
    with pytest.raises(SandboxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_fragment(expression, "segment 's'", expression=True)


@pytest.mark.parametrize(
    ("sql", "message", "rule"),
    [
        ("select 1; select 2", "more than one statement", "sql/one-statement"),
        ("create or replace view audience as select 1", "not CREATE", "sql/one-statement"),
        ("copy audience to 'x.csv'", "not COPY", "sql/one-statement"),
        ("select * from read_csv('x.csv')", "refused (file)", "sql/refused-function"),
        ("select * from '/etc/passwd'", "reads '/etc/passwd' by name", "sql/refused-function"),
        ("select * from '.tmp/spill.bin'", "by name", "sql/refused-function"),
        ("select * from query('select 1')", "refused (SQL in text)", "sql/refused-function"),
        ("select * from duckdb_secrets()", "refused (environment)", "sql/refused-function"),
    ],
)
def test_a_query_is_one_select_within_the_policy(sql: str, message: str, rule: str) -> None:
    with pytest.raises(SandboxError) as caught:
        check_fragment(sql, "metric 'm'", expression=False)
    assert message in caught.value.message and caught.value.rule == rule


def test_a_query_is_pasted_without_its_trailing_semicolon() -> None:
    assert (
        check_fragment("  select count(*) from audience ;\n", "metric 'm'", expression=False)
        == "select count(*) from audience"
    )


def test_the_spill_folder_is_private_not_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the red team's case 4: DuckDB allows its spill folder (default <cwd>/.tmp) even with external access off
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "planted.csv").write_text("secret\n")
    con = connect(tmp_path / "run")
    spill = con.execute("select current_setting('temp_directory')").fetchone()[0]
    assert not spill.startswith(str(tmp_path)) and oct(os.stat(spill).st_mode & 0o777) == "0o700"
    with pytest.raises(duckdb.Error):  # the wall holds even for a call the policy would have refused first
        con.execute("select * from read_csv('.tmp/planted.csv')").fetchall()
