"""Rendering audience SQL without a database: placeholders, bound params, located Jinja errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RenderError
from engine.render.env import make_environment, render_sql


def _render(root: Path, files: dict[str, str], values: dict, template: str = "q.sql", **options: object):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return render_sql(make_environment(root), root, name="q", template=template, values=values, options=options)


def test_values_become_placeholders_and_only_used_ones_are_bound(tmp_path: Path) -> None:
    sql = "select id from users\nwhere created_at < {{ as_of }}\n  and id = any({{ ids }}::uuid[]);\n"
    got = _render(tmp_path, {"q.sql": sql}, {"as_of": "T", "ids": ["a"], "unused": 3})
    assert got.sql == "select id from users\nwhere created_at < %(as_of)s\n  and id = any(%(ids)s::uuid[])"
    assert got.params == {"as_of": "T", "ids": ["a"]}  # 'unused' is not sent
    assert got.origin == "sql/q.sql" and got.name == "q"


def test_options_shape_the_text_and_macros_are_imported(tmp_path: Path) -> None:
    files = {
        "macros/m.sql": "{% macro live(a) -%}{{ a }}.deleted_at = 0{%- endmacro %}",
        "q.sql": "{% from 'macros/m.sql' import live %}select 1 from u where {{ live('u') }}"
        "{% if options.extra %} and x{% endif %}",
    }
    assert _render(tmp_path, files, {}, extra=True).sql == "select 1 from u where u.deleted_at = 0 and x"
    assert _render(tmp_path, files, {}, extra=False).sql == "select 1 from u where u.deleted_at = 0"


@pytest.mark.parametrize(
    ("sql", "message", "where"),
    [
        ("select 1\nfrom t where a = {{ nope }}", "undefined variable", "sql/q.sql:2"),
        ("select 1\n{% if %}", "Jinja syntax error", "sql/q.sql:2"),
        ("select 1 {% if hours %}x{% endif %}", "used in a Jinja condition", "sql/q.sql:1"),
        ("{% include 'missing.sql' %}", "SQL template not found: sql/missing.sql", "sql/q.sql"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, sql: str, message: str, where: str) -> None:
    with pytest.raises(RenderError, match=message) as info:
        _render(tmp_path, {"q.sql": sql}, {"hours": 3})
    assert str(info.value.location) == where


def test_a_file_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_bytes(b"select 1\n-- caf\xe9\n")
    with pytest.raises(RenderError, match="not UTF-8") as info:
        render_sql(make_environment(tmp_path), tmp_path, name="q", template="q.sql", values={})
    assert str(info.value.location) == "sql/q.sql:2:7"


def test_the_sandbox_refuses_attribute_escapes(tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        _render(tmp_path, {"q.sql": "select '{{ ''.__class__.__mro__[1].__subclasses__() }}'"}, {})
