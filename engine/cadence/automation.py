"""The cadence rules in force for a send: the project's rules plus one automation's overrides.

Only the ``cadence:`` mapping of the named automation in ``schedules.yaml`` is read here;
the scheduler owns (and validates) the rest of that file. An automation run's sends use the
mapping as the run froze it at generate instead (``frozen_config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from engine.cadence.rules import CadenceConfig, apply_override, load_cadence_config
from engine.documents import load
from engine.errors import ScheduleError, SourceLocation

SCHEDULES_FILE = "schedules.yaml"


def effective_config(project_dir: Path, automation: str | None = None) -> CadenceConfig:
    """``cadence.yaml`` (or the defaults), with ``automation``'s ``cadence:`` overrides applied."""
    config = load_cadence_config(project_dir)
    if automation is None:
        return config
    path = project_dir / SCHEDULES_FILE
    if not path.exists():
        raise ScheduleError(
            f"automation {automation!r} requested but {path} does not exist",
            hint="automations are declared under 'automations:' in schedules.yaml",
        )
    doc = load(path, str(path), error=ScheduleError)
    automations = doc.data.get("automations") if isinstance(doc.data, dict) else None
    if not isinstance(automations, list):
        raise ScheduleError("schedules.yaml has no 'automations:' list", location=SourceLocation(str(path), 1))
    for index, item in enumerate(automations):
        if isinstance(item, dict) and item.get("id") == automation:
            override = item.get("cadence")
            if override is None:
                return config
            return apply_override(
                config,
                override,
                source=f"{path.name} automation {automation!r}",
                doc=doc,
                base_path=("automations", index, "cadence"),
            )
    ids = [str(item.get("id")) for item in automations if isinstance(item, dict)]
    raise ScheduleError(
        f"unknown automation {automation!r}",
        location=SourceLocation(str(path)),
        hint=f"automations in schedules.yaml: {', '.join(ids) or 'none'}",
    )


def frozen_config(project_dir: Path, automation: str | None, override: Mapping[str, Any] | None) -> CadenceConfig:
    """``cadence.yaml`` (or the defaults) with ``override``, ``automation``'s ``cadence:`` mapping as its run froze
    it at generate (None or empty: none); schedules.yaml is not read."""
    return apply_override(
        load_cadence_config(project_dir), override or None, source=f"automation {automation!r} as frozen at generate"
    )
