"""Templates declared in schedules.yaml: found by name, checked, located by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.delivery.catalog import adhoc_template, load_template
from engine.delivery.template import TemplateError
from tests.fakes.delivery import SCHEDULES


def project(tmp_path: Path, text: str = SCHEDULES) -> Path:
    (tmp_path / "schedules.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_loads_a_named_template(tmp_path: Path) -> None:
    template = load_template(project(tmp_path), "offer_push")
    assert (template.layer, template.audience, template.output) == (3, "layer3_recent_activity", "offer_creators")
    assert template.title == "🎯 The target: [[var:product_name]]s 👟"
    assert template.variables() == ("product_name", "firstName", "variantID")
    assert template.location is not None and template.location.line == 2
    assert template.locate("body") is not None and template.locate("body").line == 7


def test_unknown_template_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(project(tmp_path), "nope")
    assert "offer_push, plain_push" in (info.value.hint or "")


@pytest.mark.parametrize("entry, message, line", [
    ("    layer: three\n    title: t\n    body: b\n", "layer must be an integer", 3),
    ("    layer: 1\n    title: t\n    body: b\n    colour: red\n", "unknown key(s) colour", 6),
    ("    layer: 1\n    title: [t]\n    body: b\n", "title must be a string", 4),
])
def test_invalid_entries_point_at_the_line(tmp_path: Path, entry: str, message: str, line: int) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(project(tmp_path, "templates:\n  bad:\n" + entry), "bad")
    assert message in info.value.message
    assert info.value.location is not None and info.value.location.line == line


def test_missing_file_and_section(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_template(tmp_path, "x")
    with pytest.raises(TemplateError, match="no 'templates:'"):
        load_template(project(tmp_path, "automations: []\n"), "x")


def test_adhoc_needs_a_layer() -> None:
    with pytest.raises(TemplateError, match="--layer"):
        adhoc_template(title="t", body="b", deep_link=None, layer=None)
    assert adhoc_template(title="t", body="b", deep_link="", layer=1).deep_link is None
