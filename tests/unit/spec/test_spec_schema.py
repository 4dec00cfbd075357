"""The audience model is the one declaration of each field: the schema file is generated from it,
its choices are ``Literal`` types, and a file that writes another value gets a located error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import SpecError
from engine.spec.loader import load_audience
from engine.spec.model import Join, OrderRule, OutputColumn, Param, Requirement
from engine.spec.schema import SCHEMA_FILE, render

SPEC_DIR = Path(__file__).resolve().parents[3] / "engine" / "spec"
BASE = Path(__file__).resolve().parents[2] / "validate" / "fixtures" / "base"


def test_the_committed_schema_is_the_generated_one() -> None:
    assert (SPEC_DIR / SCHEMA_FILE).read_text("utf-8") == render(), (
        "the model changed: run `python -m engine.spec.schema` and commit the schema file"
    )


def _load(tmp_path: Path, find: str, replace: str) -> object:
    project = tmp_path / "project"
    shutil.copytree(BASE, project)
    target = project / "audiences" / "mini.yaml"
    text = target.read_text()
    assert text.count(find) == 1, find
    target.write_text(text.replace(find, replace))
    return load_audience(target, project)


@pytest.mark.parametrize(
    ("find", "replace", "expected"),
    [
        (
            "using: [user_id], how: inner}",
            "using: [user_id], how: outer}",
            "audiences/mini.yaml:16:43: audience.join[0].how: 'outer' is not one of ['inner', 'left']",
        ),
        (
            "{column: first_name, blank: reject}",
            "{column: first_name, blank: strip}",
            "audiences/mini.yaml:22:26: require[0].blank: 'strip' is not one of ['allow', 'reject']",
        ),
        (
            "    - {column: created_at, direction: desc}\nrequire",
            "    - {column: created_at, direction: down}\nrequire",
            "audiences/mini.yaml:20:28: prioritise.order[0].direction: 'down' is not one of ['asc', 'desc']",
        ),
        (
            "      firstName: first_name\n",
            "      firstName: {column: first_name, format: iso}\n",  # as before the
            "audiences/mini.yaml:38:7: outputs[0].columns.firstName: {'column': 'first_name', 'format': 'iso'} "
            "is not of type 'string'",
        ),  # model: of a column's two shapes, the message names the shorter path
        (
            "    segment: recent\n",
            "    segment: recent\n    when_empty: never\n",
            "audiences/mini.yaml:32:5: outputs[0].when_empty: 'never' is not one of ['skip', 'write']",
        ),
        (
            "  from: activity\n",
            "  from: activity\n  when_empty: sometimes\n",
            "audiences/mini.yaml:15:3: audience.when_empty: 'sometimes' is not one of "
            "['write_outputs', 'no_files', 'no_files_before_thresholds']",
        ),
        (
            "{type: integer, default: 7",
            "{type: int, default: 7",
            "audiences/mini.yaml:5:19: params.lookback_days.type: 'int' is not one of "
            "['integer', 'number', 'string', 'boolean', 'uuid', 'timestamp']",
        ),
        (
            "      values: {item_count: 5}\n",
            "      values: {item_count: 5}\n      when_empty: always\n",
            "audiences/mini.yaml:44:7: outputs[0].test.when_empty: 'always' is not one of ['skip', 'write']",
        ),
    ],
)
def test_a_choice_outside_its_literal_is_a_located_error(
    tmp_path: Path, find: str, replace: str, expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, find, replace)
    assert f"{caught.value.location}: {caught.value.message}" == expected


def test_a_misspelt_key_in_a_block_keeps_its_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, "  from: activity\n", "  from: activity\n  when_emtpy: no_files\n")
    assert str(caught.value.location) == "audiences/mini.yaml:15:3"
    assert caught.value.message == "unknown key 'when_emtpy' in audience"
    assert caught.value.hint == "did you mean 'when_empty'?"


def test_defaults_and_nested_keys_come_from_the_model(tmp_path: Path) -> None:
    spec = _load(tmp_path, "using: [user_id], how: inner}", "using: [user_id]}")
    assert spec.base == "activity" and spec.joins == (Join("profiles", ("user_id",)),)  # audience.from / .join
    assert spec.joins[0].how == "left" and spec.when_empty == "write_outputs"
    assert spec.prioritise_key == ("user_id",) and spec.prioritise_order == (OrderRule("created_at", "desc"),)
    assert spec.require == (Requirement("first_name", "reject"),)
    assert spec.params == (Param("lookback_days", "integer", default=7, minimum=1),)
    assert spec.queries[1].binds[0].param == "user_ids"
    output = spec.outputs[0]
    assert output.columns[0] == OutputColumn("user_id", column="user_id") and output.columns[0].format == "text"
    assert output.when_empty == "skip" and output.test is not None and output.test.source_row == 1
    assert spec.thresholds[0].min == 2 and isinstance(spec.thresholds[0].min, int)  # 2 renders as 2, not 2.0


def test_a_threshold_naming_a_param_keeps_the_name_apart(tmp_path: Path) -> None:
    spec = _load(tmp_path, "column: item_count, min: 2}", "column: item_count, min: '{{ lookback_days }}'}")
    assert (spec.thresholds[0].min, spec.thresholds[0].min_param) == (None, "lookback_days")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Join("q", ("a",), "outer"),
        lambda: OrderRule("a", "down"),
        lambda: Requirement("a", "strip"),
        lambda: OutputColumn("h", column="a", format="iso"),
        lambda: Param("p", "int"),
    ],
)
def test_code_cannot_build_a_choice_outside_its_literal(build: object) -> None:
    with pytest.raises(ValidationError, match="Input should be"):
        build()  # type: ignore[operator]
