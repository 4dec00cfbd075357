"""An automation's definition as it stood at generate: stored with the run, hashed, compared with the file.

TEST, the cancellation window and the live send use this copy, never the current schedules.yaml: the
window exists so that a person approves what the TEST send showed, so an edit applies from the next
run. ``changes`` is the one comparison; ``engine status``, the report and the page show its lines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.push.arms import HoldoutGroup
from engine.push.template import PushTemplate
from engine.schedules.durations import format_duration, parse_duration
from engine.schedules.model import Automation, Conversion, ScheduleFile

CHANGED = "definition changed since generate"  # what status, the report and the page say above the lines

_PUSH_FIELDS = ("name", "title", "body", "deep_link", "layer", "audience", "output")


@dataclass(frozen=True)
class Definition:
    """What a run sends: the audience and its vars, the pushes in order, cadence overrides, limits."""

    audience: str
    vars: dict[str, Any]
    pushes: tuple[PushTemplate, ...]
    cadence: dict[str, Any] | None
    max_audience_size: int | None
    holdouts: tuple[HoldoutGroup, ...] = ()  # the global group first, then the automation's own
    conversions: tuple[Conversion, ...] = ()

    @classmethod
    def of(cls, schedules: ScheduleFile, automation: Automation) -> Definition:
        """The automation as the file declares it now."""
        return cls(
            audience=automation.audience,
            vars=dict(automation.vars),
            pushes=tuple(schedules.templates[name] for name in automation.pushes),
            cadence=dict(automation.cadence) if automation.cadence is not None else None,
            max_audience_size=automation.max_audience_size,
            holdouts=schedules.holdouts(automation),
            conversions=automation.conversions,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Definition:
        """The copy stored with a run (``as_json``)."""
        return cls(
            audience=data["audience"],
            vars=data["vars"],
            pushes=tuple(PushTemplate(**push) for push in data["pushes"]),
            cadence=data["cadence"],
            max_audience_size=data["max_audience_size"],
            holdouts=tuple(HoldoutGroup.from_json(group) for group in data.get("holdouts", ())),
            conversions=tuple(
                Conversion(name=c["name"], within=parse_duration(c["within"])) for c in data.get("conversions", ())
            ),
        )

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (dates as ISO text), the form stored and compared."""
        data = {
            "audience": self.audience,
            "vars": self.vars,
            "pushes": [_push_json(push) for push in self.pushes],
            "cadence": self.cadence,
            "max_audience_size": self.max_audience_size,
        }
        # experiments' keys only when used: a definition without them keeps the digest it always had
        if self.holdouts:
            data["holdouts"] = [group.as_json() for group in self.holdouts]
        if self.conversions:
            data["conversions"] = [{"name": c.name, "within": format_duration(c.within)} for c in self.conversions]
        result: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return result

    def digest(self) -> str:
        """sha256 of the canonical JSON: equal digests, equal definitions."""
        canonical = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _push_json(push: PushTemplate) -> dict[str, Any]:
    data = {name: getattr(push, name) for name in _PUSH_FIELDS}
    if push.variants:
        data["variants"] = [variant.as_json() for variant in push.variants]
    return data


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        named = bool(value) and all(isinstance(item, dict) and "name" in item for item in value)
        order = {path: [item["name"] for item in value]} if named else {}  # the send order is part of it
        return order | {
            k: v
            for index, item in enumerate(value)
            for k, v in _flat(item, f"{path}[{item['name'] if named else index}]").items()
        }
    return {path: value}


def changes(frozen: dict[str, Any] | None, current: Definition | None) -> tuple[str, ...]:
    """How the file's definition differs from the frozen one, one ``key: old -> new`` line per value
    (empty: the same, or nothing was frozen yet; a definition gone from the file is one line)."""
    if frozen is None:
        return ()
    if current is None:
        return ("the automation is no longer in schedules.yaml",)
    before, after = _flat(frozen), _flat(current.as_json())
    missing = object()
    return tuple(
        f"{key}: {json.dumps(before.get(key), ensure_ascii=False) if key in before else '(none)'} -> "
        f"{json.dumps(after.get(key), ensure_ascii=False) if key in after else '(none)'}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key, missing) != after.get(key, missing)
    )


def drift(frozen: dict[str, Any] | None, automation_id: str, schedules: ScheduleFile) -> tuple[str, ...]:
    """``changes`` between a run's frozen definition and ``schedules`` as it stands."""
    automation = schedules.automation(automation_id)
    return changes(frozen, Definition.of(schedules, automation) if automation else None)
