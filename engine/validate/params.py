"""Params an audience declares but nothing uses: a warning (a typo, or a leftover after an edit).

A param is used when a query binds it, a threshold names it, an output file name pattern
formats it (``{product_id:.8}``) or the transform template reads it. Only checked when every
query of the audience rendered (otherwise the set of used names is incomplete).
"""

from __future__ import annotations

import re
from typing import Mapping

import jinja2
from jinja2 import meta

from engine.documents import Document
from engine.render.model import RenderedQuery
from engine.spec.model import AudienceSpec
from engine.validate.findings import Findings

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)")


def _transform_names(env: jinja2.Environment, spec: AudienceSpec) -> set[str]:
    if not spec.transform:
        return set()
    try:
        source = env.loader.get_source(env, spec.transform)[0] if env.loader else ""
        return set(meta.find_undeclared_variables(env.parse(source)))
    except jinja2.TemplateError:
        return set()


def check_unused_params(
    findings: Findings,
    doc: Document,
    spec: AudienceSpec,
    rendered: Mapping[str, RenderedQuery],
    env: jinja2.Environment,
) -> None:
    if len(rendered) < len(spec.queries):
        return
    used = {name for query in rendered.values() for name in query.params}
    used |= {name for t in spec.thresholds for name in (t.min_param, t.max_param) if name}
    for output in spec.outputs:
        used |= set(_FIELD.findall(output.file)) | set(_FIELD.findall(output.test.file if output.test else ""))
    used |= _transform_names(env, spec)
    for param in spec.params:
        if param.name not in used:
            loc = doc.locate(("params", param.name))
            findings.add(
                "yaml/unused-param",
                f"param {param.name!r} is declared but never used",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                severity="warning",
                key_path=loc.key_path,
                hint="use it in the SQL ({{ " + param.name + " }}), a threshold or a file name, or remove it",
            )
