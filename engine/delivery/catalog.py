"""Push templates declared under ``templates:`` in schedules.yaml (or given ad hoc on the command line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.delivery.template import FIELDS, PushTemplate, TemplateError
from engine.spec.yamlmarks import MarkedDocument, load_marked

SCHEDULES_FILE = "schedules.yaml"
_KEYS = {"audience", "output", "layer", "title", "body", "deep_link"}


def load_template(project_dir: Path, name: str) -> PushTemplate:
    """The template ``name`` from the project's schedules.yaml, with its file locations."""
    path = project_dir / SCHEDULES_FILE
    if not path.exists():
        raise TemplateError(f"template {name!r} requested but {path} does not exist",
                            hint="declare templates under 'templates:' in schedules.yaml, or send ad hoc "
                                 "with --title/--body/--layer")
    doc = load_marked(path, SCHEDULES_FILE)
    templates = doc.data.get("templates") if isinstance(doc.data, dict) else None
    if not isinstance(templates, dict):
        raise TemplateError("schedules.yaml has no 'templates:' mapping", location=doc.locate(("templates",)))
    if name not in templates:
        raise TemplateError(f"unknown push template {name!r}", location=doc.locate(("templates",)),
                            hint=f"templates in schedules.yaml: {', '.join(sorted(map(str, templates))) or 'none'}")
    return _template(doc, name, templates[name])


def adhoc_template(*, title: str | None, body: str | None, deep_link: str | None,
                   layer: int | None) -> PushTemplate:
    """A push given on the command line (the original's manual send)."""
    if layer is None:
        raise TemplateError("an ad hoc push needs --layer", hint="e.g. --layer 1 (see engine cadence rules)")
    return PushTemplate(title=title or "", body=body or "", deep_link=deep_link or None, layer=layer)


def _template(doc: MarkedDocument, name: str, entry: Any) -> PushTemplate:
    where = ("templates", name)
    if not isinstance(entry, dict):
        raise TemplateError(f"template {name!r} must be a mapping", location=doc.locate(where))
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise TemplateError(f"template {name!r}: unknown key(s) {', '.join(map(str, unknown))}",
                            location=doc.locate(where + (unknown[0],)), hint=f"known keys: {', '.join(sorted(_KEYS))}")
    for key in ("audience", "output", "title", "body", "deep_link"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise TemplateError(f"template {name!r}: {key} must be a string", location=doc.locate(where + (key,)))
    layer = entry.get("layer")
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TemplateError(f"template {name!r}: layer must be an integer layer id",
                            location=doc.locate(where + ("layer",)), hint="e.g. layer: 3")
    return PushTemplate(
        title=entry.get("title") or "", body=entry.get("body") or "", deep_link=entry.get("deep_link") or None,
        layer=layer, name=name, audience=entry.get("audience"), output=entry.get("output"),
        location=doc.locate(where),
        field_locations=tuple((f, doc.locate(where + (f,))) for f in FIELDS if f in entry))
