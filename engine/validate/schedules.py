"""schedules.yaml against the rest of the project: audiences, outputs, CSV headers, layers, params.

The file's own problems come from ``engine.schedules.loader.check_document``; this adds what
needs the audiences: a template's audience and output exist, every ``[[var:x]]`` is a header
of that output, its layer is configured in cadence.yaml, its deep link host is allowed; an
automation's audience exists, its ``vars`` are valid params, its cadence overrides apply.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

from engine.cadence.rules import CadenceConfig, apply_override
from engine.config import Settings
from engine.documents import Document, KeyPath, KnownValid, load, schema_problems
from engine.errors import ConfigError, EngineError, ScheduleError, SpecError
from engine.push.template import FIELDS, VARIABLE, link_problem
from engine.schedules.loader import SCHEDULES_FILE, check_document, schedules_schema
from engine.schedules.marks import value_location
from engine.spec.model import AudienceSpec
from engine.spec.params import resolve_params
from engine.validate.audiences import AudienceEntry
from engine.validate.findings import Findings

_RULES = (
    ("unknown key", "schedules/unknown-key"),
    ("invalid cron", "schedules/cron"),
    ("time zone", "schedules/timezone"),
    ("duplicate automation", "schedules/duplicate-id"),
    ("malformed variable", "templates/malformed-variable"),
    ("cancellation window", "schedules/timing"),
    ("must start before", "schedules/timing"),
    ("must come before", "schedules/timing"),
)


def _rule(problem: EngineError) -> str:
    for text, rule in _RULES:
        if text in problem.message:
            return rule
    key_path = problem.location.key_path if problem.location else None
    return "schedules/schema" if problem.message.startswith((f"{key_path}:", "(top level):")) else "schedules/reference"


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or 'none'}"


class _Context:
    def __init__(self, findings: Findings, doc: Document, entries: Mapping[str, AudienceEntry]) -> None:
        self.findings = findings
        self.doc = doc
        self.entries = entries

    def add(
        self,
        rule: str,
        message: str,
        path: KeyPath,
        *,
        offset: int = 0,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        loc = value_location(self.doc, path, offset)
        self.findings.add(
            rule,
            message,
            path=loc.file,
            line=loc.line,
            col=loc.col,
            hint=hint,
            severity=severity,
            key_path=loc.key_path,
        )

    def audience(self, name: str, path: KeyPath, owner: str) -> AudienceSpec | None:
        entry = self.entries.get(name)
        if entry is None:
            self.add(
                "schedules/unknown-audience",
                f"{owner} names unknown audience {name!r}",
                path,
                hint=_suggest(name, sorted(self.entries)),
            )
            return None
        return entry.spec


def _template(ctx: _Context, settings: Settings, cadence: CadenceConfig, name: str, data: dict[str, Any]) -> None:
    where: KeyPath = ("templates", name)
    owner = f"template {name!r}"
    try:
        layer = cadence.layer(data["layer"])
    except ConfigError:
        layer = None
        ctx.add(
            "templates/unknown-layer",
            f"{owner}: layer {data['layer']} is not configured",
            where + ("layer",),
            hint="layers in cadence.yaml: " + ", ".join(f"{x.id} ({x.name})" for x in cadence.layers),
        )
    if data.get("deep_link"):
        problem = link_problem(VARIABLE.sub(lambda m: m.group(1), data["deep_link"]), settings.deep_link_hosts)
        if problem:
            ctx.add("templates/deep-link", f"{owner}: deep_link {problem}", where + ("deep_link",))
    spec = ctx.audience(data["audience"], where + ("audience",), owner)
    if spec is None:
        return
    output = next((o for o in spec.outputs if o.name == data["output"]), None)
    if output is None:
        ctx.add(
            "templates/unknown-output",
            f"{owner}: audience {spec.name!r} has no output {data['output']!r}",
            where + ("output",),
            hint=_suggest(data["output"], [o.name for o in spec.outputs]),
        )
        return
    if layer is not None and layer.id != spec.layer:
        ctx.add(
            "templates/layer-mismatch",
            f"{owner} sends as layer {layer.id}, audience {spec.name!r} is layer {spec.layer}",
            where + ("layer",),
            severity="warning",
            hint="cadence counts the push under the template's layer",
        )
    headers = [c.header for c in output.columns]
    for field in FIELDS:
        for match in VARIABLE.finditer(data.get(field) or ""):
            variable = match.group(1)
            if variable in headers:
                continue
            same_case = [h for h in headers if h.lower() == variable.lower()]
            close = same_case or difflib.get_close_matches(variable, headers, n=1)
            ctx.add(
                "templates/unknown-variable",
                f"{owner} uses [[var:{variable}]] but output {output.name!r} of {spec.name!r} has no such column",
                where + (field,),
                offset=match.start(),
                hint=(f"did you mean [[var:{close[0]}]]? " if close else "") + f"headers: {', '.join(headers)}",
            )


def _automation(ctx: _Context, cadence: CadenceConfig, index: int, data: dict[str, Any]) -> None:
    where: KeyPath = ("automations", index)
    owner = f"automation {data['id']!r}"
    spec = ctx.audience(data["audience"], where + ("audience",), owner)
    for rule_name, value in (data.get("cadence") or {}).items():
        try:
            apply_override(
                cadence,
                {rule_name: value},
                source=f"{SCHEDULES_FILE} {owner}",
                doc=ctx.doc,
                base_path=where + ("cadence",),
            )
        except ConfigError as err:
            ctx.findings.add_error(err, "cadence/override", default_path=SCHEDULES_FILE)
    if spec is None:
        return
    variables = dict(data.get("vars") or {})
    declared = [p.name for p in spec.params]
    for name in list(variables):
        if spec.param(name) is None:
            ctx.add(
                "schedules/vars",
                f"{owner}: audience {spec.name!r} has no param {name!r}",
                where + ("vars", name),
                hint=_suggest(name, declared),
            )
            variables.pop(name)
    try:
        resolve_params(spec, (f"{owner} vars", variables))
    except SpecError as err:
        bad = next((n for n in variables if repr(n) in err.message), None)
        ctx.add("schedules/vars", err.message, where + (("vars", bad) if bad else ("vars",)), hint=err.hint)


def check_schedules(
    findings: Findings,
    settings: Settings,
    entries: Mapping[str, AudienceEntry],
    cadence: CadenceConfig,
    selected: set[str] | None,
    known_valid: KnownValid,
) -> None:
    """Every problem of schedules.yaml, alone and against the audiences (``selected`` limits it).

    ``known_valid`` also spares validating the file a second time to know whether its schema holds."""
    path: Path = settings.project_dir / SCHEDULES_FILE
    if not path.exists():
        return
    try:
        doc = load(path, SCHEDULES_FILE, error=ScheduleError)
    except ScheduleError as err:
        findings.add_error(err, "schedules/syntax", default_path=SCHEDULES_FILE)
        return
    for problem in check_document(doc, known_valid=known_valid):
        findings.add_error(problem, _rule(problem), default_path=SCHEDULES_FILE)
    if not isinstance(doc.data, dict) or schema_problems(
        doc, schedules_schema(), error=ScheduleError, known_valid=known_valid
    ):
        return
    ctx = _Context(findings, doc, entries)
    for name, data in (doc.data.get("templates") or {}).items():
        if selected is None or data["audience"] in selected:
            _template(ctx, settings, cadence, name, data)
    for index, data in enumerate(doc.data.get("automations") or []):
        if selected is None or data["audience"] in selected:
            _automation(ctx, cadence, index, data)
