"""Which push a send uses: a template from schedules.yaml (via engine.schedules) or an ad hoc one."""

from __future__ import annotations

from pathlib import Path

from engine.delivery.template import PushTemplate, TemplateError
from engine.schedules.loader import SCHEDULES_FILE, load_schedules


def load_template(project_dir: Path, name: str) -> PushTemplate:
    """The template ``name`` declared under ``templates:`` in the project's schedules.yaml."""
    templates = load_schedules(project_dir).templates
    if name not in templates:
        known = ", ".join(sorted(templates))
        raise TemplateError(f"unknown push template {name!r}",
                            hint=f"templates in {SCHEDULES_FILE}: {known}" if known else
                            f"declare it under 'templates:' in {project_dir / SCHEDULES_FILE}, or send ad hoc "
                            "with --title/--body/--layer")
    return templates[name]


def adhoc_template(*, title: str | None, body: str | None, deep_link: str | None,
                   layer: int | None) -> PushTemplate:
    """A push given on the command line (the original's manual send)."""
    if layer is None:
        raise TemplateError("an ad hoc push needs --layer", hint="e.g. --layer 1 (see engine cadence rules)")
    return PushTemplate(title=title or "", body=body or "", deep_link=deep_link or None, layer=layer)
