"""Load schedules.yaml: syntax, JSON Schema, the file's own consistency, then the typed model.

``check_document`` returns every problem found in the file by itself (``engine validate``
adds the checks that need the audiences: outputs, columns, params); ``load_schedules``
raises the first one, for the scheduler and delivery, which just need a usable file.
Timing rule (reference 4.3, seed 000): audience generation (T-generate) comes before the
TEST send (T-test), which comes before the live send (T-0); the cancellation window is the
last stretch before T-0 and must fit between the TEST send and the live send.
"""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

from pydantic import TypeAdapter

from engine.config.zones import zone_hint
from engine.documents import Document, KeyPath, KnownValid, load, schema_problems
from engine.errors import EngineError, ScheduleError, first_of
from engine.push.template import FIELDS, SUSPECT, VARIABLE
from engine.schedules.cron import CronError, parse_cron
from engine.schedules.durations import format_duration, parse_duration
from engine.schedules.marks import value_location
from engine.schedules.model import DEFAULT_GENERATE_LEAD, DEFAULT_TEST_LEAD, ScheduleFile
from engine.schedules.schema import schedules_schema
from engine.schemagen import build

SCHEDULES_FILE = "schedules.yaml"
CRON_HINT = 'five fields: minute hour day-of-month month day-of-week, e.g. "30 12 * * *" (12:30 daily, the send time)'


def malformed_variables(text: str | None) -> Iterator[tuple[int, str]]:
    """(offset, text) of every placeholder-looking ``[[...`` that is not a valid ``[[var:name]]``."""
    valid = {m.start() for m in VARIABLE.finditer(text or "")}
    for match in SUSPECT.finditer(text or ""):
        if match.start() not in valid:
            yield match.start(), match.group(0)


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or 'none'}"


def _template_problems(doc: Document, templates: dict[str, Any]) -> list[EngineError]:
    problems: list[EngineError] = []
    for name, template in templates.items():
        named: set[str] = set()
        for index, variant in enumerate(template.get("variants") or ()):
            if variant["name"] in named:
                problems.append(
                    ScheduleError(
                        f"template {name!r}: two variants are named {variant['name']!r}",
                        location=doc.locate(("templates", name, "variants", index, "name")),
                        hint="the ledger records each user's variant by name: give each its own",
                    )
                )
            named.add(variant["name"])
            for field in FIELDS:
                for offset, bad in malformed_variables(variant.get(field)):
                    problems.append(
                        ScheduleError(
                            f"template {name!r}: variant {variant['name']!r}: malformed variable {bad!r} in {field}",
                            location=value_location(doc, ("templates", name, "variants", index, field), offset),
                            hint="write [[var:column_name]]",
                        )
                    )
        for field in FIELDS:
            for offset, bad in malformed_variables(template.get(field)):
                problems.append(
                    ScheduleError(
                        f"template {name!r}: malformed variable {bad!r} in {field}",
                        location=value_location(doc, ("templates", name, field), offset),
                        hint="write [[var:column_name]] (the original's [[vra:/[[va:/[[v: typos are not variables)",
                    )
                )
    return problems


def _timezone_problem(doc: Document, where: KeyPath, name: str, zone: str) -> EngineError | None:
    try:
        zoneinfo.ZoneInfo(zone)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ScheduleError(
            f"automation {name!r}: unknown time zone {zone!r}",
            location=value_location(doc, where + ("schedule", "timezone")),
            hint=zone_hint(zone),
        )


def _leads(item: dict[str, Any]) -> tuple[timedelta, timedelta, timedelta | None]:
    lead = item.get("lead") or {}
    window = item.get("cancellation_window")
    return (
        parse_duration(lead["generate"]) if "generate" in lead else DEFAULT_GENERATE_LEAD,
        parse_duration(lead["test"]) if "test" in lead else DEFAULT_TEST_LEAD,
        parse_duration(window) if window is not None else None,
    )


def _timing_problems(doc: Document, where: KeyPath, name: str, item: dict[str, Any]) -> list[EngineError]:
    generate, test, window = _leads(item)
    problems: list[EngineError] = []
    if test <= timedelta(0):
        problems.append(
            ScheduleError(
                f"automation {name!r}: the TEST send must come before the live send (lead.test is "
                f"{format_duration(test)})",
                location=doc.locate(where + ("lead", "test")),
                hint=f"the default is {format_duration(DEFAULT_TEST_LEAD)} before the send time",
            )
        )
    if generate <= test:
        problems.append(
            ScheduleError(
                f"automation {name!r}: audience generation (T-{format_duration(generate)}) must start before the TEST "
                f"send (T-{format_duration(test)})",
                location=doc.locate(where + ("lead", "generate")),
                hint=f"e.g. lead: {{generate: {format_duration(DEFAULT_GENERATE_LEAD)}, "
                f"test: {format_duration(DEFAULT_TEST_LEAD)}}}",
            )
        )
    if window is not None and window > test:
        problems.append(
            ScheduleError(
                f"automation {name!r}: the cancellation window ({format_duration(window)}) is longer than the time "
                f"between the TEST send and the live send ({format_duration(test)})",
                location=doc.locate(where + ("cancellation_window",)),
                hint="the window must open after the TEST push has gone out (the original's 30/30 setting left no "
                "window at all, reference 4.3)",
            )
        )
    start, end = item.get("start_date"), item.get("end_date")
    for key in ("start_date", "end_date"):
        try:
            if item.get(key):
                date.fromisoformat(item[key])
        except ValueError:
            problems.append(
                ScheduleError(
                    f"automation {name!r}: {key} {item[key]!r} is not a date",
                    location=doc.locate(where + (key,)),
                    hint="write YYYY-MM-DD",
                )
            )
            return problems
    if start and end and end < start:
        problems.append(
            ScheduleError(
                f"automation {name!r}: end_date {end} is before start_date {start}",
                location=doc.locate(where + ("end_date",)),
            )
        )
    return problems


def _experiment_problems(doc: Document, automations: list[dict[str, Any]]) -> list[EngineError]:
    """The global holdout is one group: every automation that declares it must declare the same one;
    an automation names each conversion once."""
    problems: list[EngineError] = []
    first: tuple[str, tuple[Any, Any]] | None = None
    for index, item in enumerate(automations):
        holdout = item.get("holdout") or {}
        if holdout.get("scope") == "global":
            declared = (holdout["percent"], holdout.get("salt"))
            if first is None:
                first = (item["id"], declared)
            elif declared != first[1]:
                problems.append(
                    ScheduleError(
                        f"automation {item['id']!r}: its global holdout (percent {declared[0]}, salt {declared[1]!r}) "
                        f"differs from automation {first[0]!r}'s (percent {first[1][0]}, salt {first[1][1]!r})",
                        location=doc.locate(("automations", index, "holdout")),
                        hint="the global holdout is one standing group: declare the same percent and salt "
                        "everywhere, or use scope: automation",
                    )
                )
        seen: set[str] = set()
        for position, conversion in enumerate(item.get("conversions") or ()):
            if conversion["name"] in seen:
                problems.append(
                    ScheduleError(
                        f"automation {item['id']!r} names conversion {conversion['name']!r} twice",
                        location=doc.locate(("automations", index, "conversions", position, "name")),
                    )
                )
            seen.add(conversion["name"])
    return problems


def _automation_problems(
    doc: Document, automations: list[dict[str, Any]], templates: dict[str, Any]
) -> list[EngineError]:
    problems: list[EngineError] = _experiment_problems(doc, automations)
    first_line: dict[str, int | None] = {}
    for index, item in enumerate(automations):
        where: KeyPath = ("automations", index)
        name = item["id"]
        if name in first_line:
            problems.append(
                ScheduleError(
                    f"duplicate automation id {name!r}",
                    location=doc.locate(where + ("id",)),
                    hint=f"ids must be unique (first declared on line {first_line[name]})",
                )
            )
        else:
            first_line[name] = doc.locate(where + ("id",)).line
        expression = item["schedule"]["cron"]
        try:
            parse_cron(expression)
        except CronError as err:
            problems.append(
                ScheduleError(
                    f"automation {name!r}: invalid cron {expression!r}: {err.message}",
                    location=value_location(doc, where + ("schedule", "cron"), err.offset),
                    hint=CRON_HINT,
                )
            )
        zone_problem = _timezone_problem(doc, where, name, item["schedule"]["timezone"])
        if zone_problem:
            problems.append(zone_problem)
        problems.extend(_timing_problems(doc, where, name, item))
        seen: set[str] = set()
        for position, push in enumerate(item["pushes"]):
            at = doc.locate(where + ("pushes", position))
            if push in seen:
                problems.append(ScheduleError(f"automation {name!r} sends template {push!r} twice", location=at))
            seen.add(push)
            if push not in templates:
                problems.append(
                    ScheduleError(
                        f"automation {name!r} names unknown template {push!r}",
                        location=at,
                        hint=_suggest(push, sorted(templates)),
                    )
                )
            elif templates[push]["audience"] != item["audience"]:
                problems.append(
                    ScheduleError(
                        f"automation {name!r} runs audience {item['audience']!r}, but template {push!r} sends an "
                        f"output of {templates[push]['audience']!r}",
                        location=at,
                        hint="an automation runs one audience and sends templates of that audience",
                    )
                )
    return problems


def check_document(doc: Document, *, known_valid: KnownValid | None = None) -> list[EngineError]:
    """Every problem schedules.yaml has on its own (schema, cron, time zones, timing, references).

    ``known_valid``: see ``schema_problems``."""
    if not isinstance(doc.data, dict):
        return [
            ScheduleError("schedules.yaml must be a mapping with templates: and automations:", location=doc.locate(()))
        ]
    problems: list[EngineError] = [
        *schema_problems(doc, schedules_schema(), error=ScheduleError, known_valid=known_valid)
    ]
    if problems:
        return problems
    templates = doc.data.get("templates") or {}
    return _template_problems(doc, templates) + _automation_problems(doc, doc.data.get("automations") or [], templates)


_SCHEDULES = TypeAdapter(ScheduleFile)


def build_schedules(doc: Document) -> ScheduleFile:
    """The typed model of a document that passed ``check_document`` (the model applies every default)."""
    data = doc.data
    templates = {
        name: {
            **entry,
            "location": doc.locate(("templates", name)),
            "field_locations": tuple((f, doc.locate(("templates", name, f))) for f in FIELDS if f in entry),
        }
        for name, entry in data.get("templates", {}).items()
    }
    automations = [
        {**item, "location": doc.locate(("automations", index))}
        for index, item in enumerate(data.get("automations", []))
    ]
    return build(
        _SCHEDULES,
        doc,
        {**data, "templates": templates, "automations": automations, "source": doc.display},
        error=ScheduleError,
    )


def load_schedules(project_dir: Path) -> ScheduleFile:
    """The project's schedules.yaml (empty when absent); raises its first problem."""
    path = project_dir / SCHEDULES_FILE
    if not path.exists():
        return ScheduleFile()
    doc = load(path, SCHEDULES_FILE, error=ScheduleError)
    problems = check_document(doc)
    if problems:
        raise first_of(problems)
    return build_schedules(doc)
