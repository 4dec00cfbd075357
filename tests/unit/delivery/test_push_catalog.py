"""Which push a send uses: named templates come from schedules.yaml through engine.schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ScheduleError
from engine.push.template import TemplateError, adhoc_template
from engine.schedules.templates import load_template
from tests.fakes.delivery import SCHEDULES


def project(tmp_path: Path, text: str = SCHEDULES) -> Path:
    (tmp_path / "schedules.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_loads_a_named_template_with_its_location(tmp_path: Path) -> None:
    template = load_template(project(tmp_path), "offer_push")
    assert (template.layer, template.audience, template.output) == (3, "layer3_recent_activity", "offer_creators")
    assert template.title == "🎯 The target: [[var:product_name]]s 👟"
    assert template.variables() == ("product_name", "firstName", "variantID")
    assert template.location is not None and template.location.line == 3
    assert template.locate("body") is not None and template.locate("body").line == 8


def test_unknown_template_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(project(tmp_path), "nope")
    assert "offer_push, plain_push" in (info.value.hint or "")


def test_no_schedules_file_says_how_to_send(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path, "x")
    assert "--title/--body/--layer" in (info.value.hint or "")


def test_an_invalid_file_is_reported_by_the_schedules_loader(tmp_path: Path) -> None:
    text = SCHEDULES.replace("layer: 3", "layer: three")
    with pytest.raises(ScheduleError) as info:
        load_template(project(tmp_path, text), "offer_push")
    assert info.value.location is not None and info.value.location.line == 6


def test_adhoc_needs_a_layer() -> None:
    with pytest.raises(TemplateError, match="--layer"):
        adhoc_template(title="t", body="b", deep_link=None, layer=None)
    assert adhoc_template(title="t", body="b", deep_link="", layer=1).deep_link is None
