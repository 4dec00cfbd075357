"""An automation run freezes its experiment at generate: holdouts, conversions and variants travel with it."""

from __future__ import annotations

from pathlib import Path

from engine.documents import load
from engine.errors import ScheduleError
from engine.push.arms import HoldoutGroup, HoldoutScope
from engine.schedules.definition import Definition, changes
from engine.schedules.loader import build_schedules
from tests.experiments.test_arms import schedules_file


def _definition(tmp_path: Path, variants: str = "", experiment: str = "") -> Definition:
    path = tmp_path / "schedules.yaml"
    path.write_text(schedules_file(variants=variants, holdout=experiment), encoding="utf-8")
    schedules = build_schedules(load(path, "schedules.yaml", error=ScheduleError))
    return Definition.of(schedules, schedules.automations[0])


def test_a_frozen_experiment_reads_back_as_it_was(tmp_path: Path) -> None:
    frozen = _definition(
        tmp_path,
        variants="    variants:\n      - {name: a, title: X}\n      - {name: b, weight: 2}",
        experiment="    holdout: {percent: 10}\n    conversions:\n      - {name: created_offer, within: 24h}",
    )
    assert frozen.holdouts == (HoldoutGroup(HoldoutScope.AUTOMATION, 10.0, "daily"),)  # salt: the automation id
    again = Definition.from_json(frozen.as_json())
    assert again.as_json() == frozen.as_json() and again.holdouts == frozen.holdouts  # (locations aside)
    assert again.conversions == frozen.conversions and again.digest() == frozen.digest()
    assert [v.name for v in again.pushes[0].variants] == ["a", "b"] and again.pushes[0].variants[1].weight == 2


def test_an_edit_to_the_experiment_after_generate_is_a_change(tmp_path: Path) -> None:
    frozen = _definition(tmp_path, experiment="    holdout: {percent: 10}").as_json()
    edited = _definition(tmp_path, experiment="    holdout: {percent: 20}")
    assert changes(frozen, edited) == ("holdouts[0].percent: 10.0 -> 20.0",)


def test_a_definition_without_experiments_keeps_the_digest_it_had(tmp_path: Path) -> None:
    # runs frozen before experiments existed were hashed without these keys: no false "definition changed"
    plain = _definition(tmp_path)
    assert set(plain.as_json()) == {"audience", "vars", "pushes", "cadence", "max_audience_size"}
    assert set(plain.as_json()["pushes"][0]) == {"name", "title", "body", "deep_link", "layer", "audience", "output"}
