"""cadence.yaml loading, validation errors with file:line, and per-automation overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cadence.automation import effective_config
from engine.cadence.rules import apply_override, default_cadence_config, load_cadence_config, parse_cadence_config
from engine.errors import ConfigError, ScheduleError

ROOT = Path(__file__).resolve().parents[3]


def test_project_file_matches_the_shipped_defaults_and_the_original_rules() -> None:
    project = load_cadence_config(ROOT)
    defaults = default_cadence_config()
    assert (project.layers, project.rules) == (defaults.layers, defaults.rules)
    # reference 5.2/5.3, written out by hand
    assert [(layer.id, layer.name, layer.cadence) for layer in defaults.layers] == [
        (1, "Layer 1", "exempt"),
        (2, "Layer 2", "apply"),
        (3, "Layer 3", "apply"),
        (4, "Test", "bypass"),
        (5, "Layer 5", "apply"),
    ]
    assert {r.name: (r.counts_layers, r.window_hours, r.max_count) for r in defaults.rules} == {
        "layer_3_cooldown_hours": ((3,), 72.0, 1),
        "layer_5_cooldown_hours": ((5,), 96.0, 1),
        "combined_l2_l3_limit": ((2, 3), 168.0, 3),
    }


def test_rules_per_layer_follow_the_original_step_order() -> None:
    config = default_cadence_config()
    names = {layer.id: [r.name for r in config.rules_for(layer)] for layer in config.layers}
    assert names == {
        1: [],  # exempt
        2: ["combined_l2_l3_limit"],  # layer 2 has no own cooldown
        3: ["layer_3_cooldown_hours", "combined_l2_l3_limit"],  # cooldown first, then combined
        4: [],  # bypass
        5: ["layer_5_cooldown_hours", "combined_l2_l3_limit"],
    }
    assert config.layer("test").id == 4 and config.layer("3").id == 3


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_cadence_config(tmp_path).rules == default_cadence_config().rules


def test_bad_yaml_points_at_the_line(tmp_path: Path) -> None:
    text = "version: 1\nlayers:\n  - id: 1\n    name: [oops\n"
    with pytest.raises(ConfigError) as info:
        parse_cadence_config(text, "cadence.yaml")
    assert info.value.location is not None
    assert info.value.location.file == "cadence.yaml"
    assert info.value.location.line is not None and info.value.location.line >= 4


def test_schema_violations_are_all_reported_with_lines() -> None:
    text = (ROOT / "cadence.yaml").read_text()
    text = text.replace("    window_hours: 96\n", "    window_hours: -5\n")  # layer 5 rule, line found below
    text = text.replace("    cadence: bypass\n", "    cadence: skip\n")
    lines = text.splitlines()
    hours_line = lines.index("    window_hours: -5") + 1
    mode_line = lines.index("    cadence: skip") + 1
    with pytest.raises(ConfigError) as info:
        parse_cadence_config(text, "cadence.yaml")
    message = str(info.value)
    assert "2 problems" in message
    assert f"cadence.yaml:{hours_line}:" in message and "rules[1].window_hours" in message
    assert f"cadence.yaml:{mode_line}:" in message and "layers[3].cadence" in message


def test_rule_naming_an_unknown_or_exempt_layer_is_rejected() -> None:
    text = (ROOT / "cadence.yaml").read_text().replace("    applies_to: [5]\n", "    applies_to: [1]\n")
    with pytest.raises(ConfigError, match="applies to layer 1, whose cadence is 'exempt'"):
        parse_cadence_config(text, "cadence.yaml")
    text = (ROOT / "cadence.yaml").read_text().replace("    counts_layers: [2, 3]\n", "    counts_layers: [2, 9]\n")
    with pytest.raises(ConfigError, match="names layer 9, which is not configured"):
        parse_cadence_config(text, "cadence.yaml")


def test_override_merge() -> None:
    base = default_cadence_config()
    merged = apply_override(base, {"layer_3_cooldown_hours": 48, "combined_l2_l3_limit": {"max_count": 2}})
    assert merged.rule("layer_3_cooldown_hours").window_hours == 48.0
    assert merged.rule("combined_l2_l3_limit").max_count == 2
    assert merged.rule("combined_l2_l3_limit").window_hours == 168.0  # untouched field kept
    assert merged.rule("layer_5_cooldown_hours") == base.rule("layer_5_cooldown_hours")
    off = apply_override(base, {"combined_l2_l3_limit": False})
    assert [r.name for r in off.rules_for(off.layer(2))] == []
    assert apply_override(base, None) is base


@pytest.mark.parametrize(
    "override, message",
    [
        ({"layer_9_cooldown_hours": 10}, "unknown rule 'layer_9_cooldown_hours'"),
        ({"combined_l2_l3_limit": 2}, "ambiguous"),  # count or hours? refuse to guess
        ({"layer_3_cooldown_hours": 0}, "is not a valid value"),
        ({"layer_3_cooldown_hours": {"hours": 4}}, "is not a valid value"),
    ],
)
def test_bad_overrides_are_refused(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_override(default_cadence_config(), override)


def test_automation_override_from_schedules_yaml(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "templates: {}\n"
        "automations:\n"
        "  - id: daily_layer3\n"
        "    audience: layer3_recent_activity\n"
        "    cadence: {layer_3_cooldown_hours: 48}\n"
        "  - id: broken\n"
        "    audience: x\n"
        "    cadence:\n"
        "      combined_l2_l3_limit: 2\n"
    )
    config = effective_config(tmp_path, "daily_layer3")
    assert config.rule("layer_3_cooldown_hours").window_hours == 48.0
    assert config.override == "schedules.yaml automation 'daily_layer3'"
    with pytest.raises(ConfigError) as info:
        effective_config(tmp_path, "broken")
    assert str(info.value.location).endswith("schedules.yaml:9:29")  # line 9, at the value 2
    with pytest.raises(ScheduleError, match="unknown automation 'nope'"):
        effective_config(tmp_path, "nope")
    assert effective_config(tmp_path, None).rule("layer_3_cooldown_hours").window_hours == 72.0
