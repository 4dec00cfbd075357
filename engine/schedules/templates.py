"""Named push templates: the ``templates:`` of schedules.yaml, looked up by name for a send."""

from __future__ import annotations

from pathlib import Path

from engine.push.template import PushTemplate, TemplateError
from engine.schedules.loader import SCHEDULES_FILE, load_schedules


def load_template(project_dir: Path, name: str) -> PushTemplate:
    """The template ``name`` declared under ``templates:`` in the project's schedules.yaml."""
    templates = load_schedules(project_dir).templates
    if name not in templates:
        known = ", ".join(sorted(templates))
        raise TemplateError(
            f"unknown push template {name!r}",
            hint=f"templates in {SCHEDULES_FILE}: {known}"
            if known
            else f"declare it under 'templates:' in {project_dir / SCHEDULES_FILE}, or send ad hoc "
            "with --title/--body/--layer",
        )
    return templates[name]
