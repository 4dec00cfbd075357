"""The one YAML loader: marks for keys and values, duplicate keys, merge keys, bad bytes, alias bombs."""

from __future__ import annotations

import pytest

from engine.documents import ALIAS_BUDGET, decode, parse, schema_problems
from engine.errors import ConfigError, ScheduleError, SpecError

TEXT = """\
base: &base {a: 1, b: 2}
item:
  <<: *base
  b: 3
list:
  - x
  - {y: "z"}
"""


def test_keys_and_values_are_located() -> None:
    doc = parse(TEXT, "f.yaml")
    assert doc.data == {"base": {"a": 1, "b": 2}, "item": {"a": 1, "b": 3}, "list": ["x", {"y": "z"}]}
    assert str(doc.locate(("item", "b"))) == "f.yaml:4:3"  # the key "b" of line 4
    assert str(doc.locate_value(("item", "b"))) == "f.yaml:4:6"  # its value 3
    assert str(doc.locate(("list", 1, "y"))) == "f.yaml:7:6"
    assert str(doc.locate_value(("list", 1, "y"))) == "f.yaml:7:9"
    assert doc.locate(("list", 5, "q")).line == 5  # the deepest existing parent: "list"
    assert doc.locate(("list", 5, "q")).key_path == "list[5].q"


def test_duplicate_key_names_the_second_one() -> None:
    with pytest.raises(ScheduleError, match="duplicate key 'a'") as info:
        parse("x: 1\na: 1\na: 2\n", "s.yaml", error=ScheduleError)
    assert str(info.value.location) == "s.yaml:3:1"


def test_syntax_error_has_the_callers_type_and_a_line() -> None:
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        parse("a: [1, 2\nb: 3\n", "engine.yaml", error=ConfigError)
    assert info.value.location is not None and info.value.location.line is not None


def test_bad_bytes_point_at_the_byte() -> None:
    with pytest.raises(SpecError) as info:
        decode(b"a: 1\nbb: caf\xe9\n", "x.yaml")
    assert str(info.value.location) == "x.yaml:2:8" and "byte 0xe9" in info.value.message
    assert decode(b"\xef\xbb\xbfa: 1\n", "x.yaml") == "a: 1\n"  # a BOM is not content


def test_aliases_within_budget_are_fine_and_a_bomb_is_not() -> None:
    # 3 levels of 10 aliases: 1,110 values, far inside the budget
    small = (
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b ["
        + ", ".join(["*a"] * 10)
        + "]\nc: ["
        + ", ".join(["*b"] * 10)
        + "]\n"
    )
    assert len(parse(small, "ok.yaml").data["c"]) == 10
    bomb = small + "d: &d [" + ", ".join(["*b"] * 10) + "]\ne: [" + ", ".join(["*d"] * 10) + "]\n"  # ~11,000 more
    with pytest.raises(SpecError, match=f"more than {ALIAS_BUDGET:,} values") as info:
        parse(bomb, "bomb.yaml")
    assert info.value.location is not None and info.value.location.file == "bomb.yaml"


def test_schema_problems_are_located_and_suggest_keys() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
    }
    doc = parse("name: x\nsise: 3\n", "a.yaml")
    [problem] = schema_problems(doc, schema, error=SpecError)
    assert problem.message == "unknown key 'sise' in (top level)" and problem.hint == "did you mean 'size'?"
    assert str(problem.location) == "a.yaml:2:1"
    doc = parse("name: x\nsize: big\n", "a.yaml")
    [problem] = schema_problems(doc, schema, error=ConfigError, at_value=True)
    assert isinstance(problem, ConfigError) and str(problem.location) == "a.yaml:2:7"
    assert problem.message == "size: 'big' is not of type 'integer'"


@pytest.mark.parametrize(
    "text",
    ['a: 1\nb: "x\\0y"\n', 'a: 1\n"k\\0": 2\n', 'a: 1\nb: "x\\ud800"\n', "a: 1\nb: x\x00y\n", "a: 1\nb: x\x01y\n"],
)
def test_a_value_no_project_file_can_carry_is_located(text: str) -> None:
    # issue 22: a NUL ("\0" or the byte itself) or a lone surrogate reached PostgreSQL and gave a traceback
    with pytest.raises(ScheduleError) as info:
        parse(text, "s.yaml", error=ScheduleError)
    assert info.value.location is not None and info.value.location.line == 2, info.value
