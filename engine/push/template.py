"""Push templates: ``[[var:column]]`` substitution, the original's syntax, made strict.

A variable names a CSV column exactly (case-sensitive). Typo forms (``[[vra:``,
``[[va:``, ``[[v:``) and any other unparsable ``[[var:`` are errors, as are variables
missing from the CSV header: all found before anything is sent. Values are URL-encoded
inside the deep link, whose host must be an allowed host or a subdomain of one, checked
on the template and again on every rendered link. A row with an empty value for a
variable it uses is skipped with the reason, never sent with a hole.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Annotated, Mapping, Sequence
from urllib.parse import quote, urlsplit

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.json_schema import SkipJsonSchema

from engine.errors import DeliveryError, SourceLocation
from engine.schemagen import CONFIG, Identifier, Maybe

VARIABLE = re.compile(r"\[\[var:([A-Za-z_][A-Za-z0-9_]*)\]\]")
# anything that looks like a placeholder once the valid ones are removed: typos, bad names, unclosed
SUSPECT = re.compile(r"\[\[\s*(?:var|vra|va|v)\s*:[^\]\s]*(?:\]\]?)?", re.IGNORECASE)
FIELDS = ("title", "body", "deep_link")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class TemplateError(DeliveryError):
    """A push template is invalid or does not fit the CSV: fix the input, nothing was sent."""

    exit_code = 2


# in schedules.yaml (its schema is generated from this model): each of these; an ad hoc push has no audience
_IN_FILE = ConfigDict(**CONFIG, json_schema_extra={"required": ["audience", "output", "layer", "title", "body"]})
_NON_EMPTY = Field(json_schema_extra={"minLength": 1})  # in the file; an empty --title of the command line
# gets a message of its own (template_problems)


@pydantic_dataclass(frozen=True, config=CONFIG, kw_only=True)
class Variant:
    """One copy of a push in an experiment: its texts override the template's; ``weight`` is its share."""

    name: Identifier
    weight: Annotated[float, Field(gt=0, description="relative share of the users (default 1)")] = 1.0
    title: Maybe[Annotated[str, _NON_EMPTY]] = None
    body: Maybe[Annotated[str, _NON_EMPTY]] = None
    deep_link: Maybe[Annotated[str, _NON_EMPTY]] = None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "weight": self.weight, **{f: getattr(self, f) for f in FIELDS}}


@pydantic_dataclass(frozen=True, config=_IN_FILE, kw_only=True)
class PushTemplate:
    """Title, body and optional deep link of one push, with its layer and where it was declared."""

    title: Annotated[str, _NON_EMPTY]
    body: Annotated[str, _NON_EMPTY]
    deep_link: Maybe[Annotated[str, _NON_EMPTY]] = None
    layer: Annotated[int, Field(json_schema_extra={"minimum": 0})]
    name: SkipJsonSchema[str | None] = None  # template name in schedules.yaml; None for an ad hoc push
    audience: Maybe[Identifier] = None  # the audience whose run it sends
    output: Maybe[Identifier] = None  # which output of that run
    description: str = ""
    variants: Annotated[
        tuple[Variant, ...],
        Field(
            description="copy variants: each user gets one, by a hash of the push's name and the user id; "
            "the ledger records which",
            json_schema_extra={"minItems": 2},
        ),
    ] = ()
    location: SkipJsonSchema[SourceLocation | None] = None
    field_locations: SkipJsonSchema[tuple[tuple[str, SourceLocation], ...]] = ()

    def text(self, field: str) -> str:
        return getattr(self, field) or ""

    def variables(self) -> tuple[str, ...]:
        """Columns used, in order of first use across title, body, deep link (and every variant's)."""
        seen: dict[str, None] = {}
        for template in (self, *self.copies()):
            for field in FIELDS:
                for name in VARIABLE.findall(template.text(field)):
                    seen.setdefault(name, None)
        return tuple(seen)

    def fingerprint(self) -> str:
        """Identifies the push's content: a resumed send must use the same template."""
        content: list[object] = [self.title, self.body, self.deep_link, self.layer]
        if self.variants:  # absent for a push without variants: its fingerprint is what it always was
            content.append([v.as_json() for v in self.variants])
        payload = json.dumps(content, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def copies(self) -> tuple[PushTemplate, ...]:
        """One template per variant, the variant's texts over this one's (empty: no variants)."""
        return tuple(
            replace(
                self,
                title=v.title or self.title,
                body=v.body or self.body,
                deep_link=v.deep_link or self.deep_link,
                variants=(),
            )
            for v in self.variants
        )

    @property
    def variant_salt(self) -> str:
        """What a user's variant is hashed with: the push's name, so each push's split is its own."""
        return f"variant:{self.name or self.fingerprint()}"

    def locate(self, field: str) -> SourceLocation | None:
        return dict(self.field_locations).get(field, self.location)


@dataclass(frozen=True)
class RenderedPush:
    title: str
    body: str
    link: str | None


def link_problem(url: str, allowed_hosts: Sequence[str]) -> str | None:
    """Why ``url`` may not be a deep link (None when it may): http(s) and an allowed host."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError as err:
        return f"not a valid URL ({err})"
    if parts.scheme.lower() not in ("https", "http") or not host:
        return "must be an absolute http(s) URL"
    if not _HOSTNAME.match(host):
        return f"host {host!r} is not a valid host name"
    allowed = [h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip()]
    if not any(host == h or host.endswith("." + h) for h in allowed):
        return (
            f"host {host!r} is not allowed (allowed: {', '.join(allowed) or 'none'}, "
            "and their subdomains; setting deep_link_hosts)"
        )
    return None


def template_problems(template: PushTemplate, allowed_hosts: Sequence[str]) -> list[tuple[str, str]]:
    """Every (field, problem) of the raw template: required texts, variable syntax, deep-link host."""
    problems: list[tuple[str, str]] = []
    for copy, variant in zip(template.copies(), template.variants, strict=True):
        own = [(field, text) for field, text in template_problems(copy, allowed_hosts) if getattr(variant, field)]
        problems.extend((field, f"variant {variant.name!r}: {text}") for field, text in own)
    for field in ("title", "body"):
        if not template.text(field).strip():
            problems.append((field, f"{field} is required"))
    for field in FIELDS:
        leftover = VARIABLE.sub("", template.text(field))
        for bad in SUSPECT.findall(leftover):
            problems.append(
                (
                    field,
                    f"{field}: malformed variable {bad!r}; write [[var:column_name]] (letters, digits, underscores)",
                )
            )
    if template.deep_link:
        # a variable stands for its own name while checking the host of the raw template
        problem = link_problem(VARIABLE.sub(lambda m: m.group(1), template.deep_link), allowed_hosts)
        if problem:
            problems.append(("deep_link", f"deep_link {template.deep_link!r}: {problem}"))
    return problems


def validate(template: PushTemplate, allowed_hosts: Sequence[str]) -> None:
    """Check syntax and the deep-link host of the raw template; raise every problem at once."""
    problems = template_problems(template, allowed_hosts)
    if problems:
        raise TemplateError(
            _heading(template) + "; ".join(text for _, text in problems),
            location=template.locate(problems[0][0]),
            hint="variables look like [[var:firstName]] and name a CSV column exactly",
        )


def missing_columns(template: PushTemplate, header: Sequence[str]) -> list[str]:
    """The template's variables that are not columns of ``header`` (exact, case-sensitive), in order of use."""
    return [name for name in template.variables() if name not in header]


def check_columns(template: PushTemplate, header: Sequence[str], source: str) -> None:
    """Every variable must be a column of the CSV header (exact, case-sensitive)."""
    missing = missing_columns(template, header)
    if missing:
        near = {m: [h for h in header if h.lower() == m.lower()] for m in missing}
        hints = [f"{m} (did you mean {', '.join(near[m])}?)" if near[m] else m for m in missing]
        raise TemplateError(
            f"{_heading(template)}variable(s) not in the CSV header of {source}: {', '.join(hints)}",
            location=template.location,
            hint=f"columns available: {', '.join(header)}",
        )


def render(
    template: PushTemplate, values: Mapping[str, str | None], allowed_hosts: Sequence[str]
) -> tuple[RenderedPush | None, str | None]:
    """Render one row: (push, None), or (None, skip reason) when the row cannot be sent as written."""
    for name in template.variables():
        value = values.get(name)
        if value is None or not value.strip():
            return None, f"missing_value:{name}"

    def plain(match: re.Match[str]) -> str:
        return values[match.group(1)] or ""

    def encoded(match: re.Match[str]) -> str:
        return quote(values[match.group(1)] or "", safe="")

    title = VARIABLE.sub(plain, template.title)
    body = VARIABLE.sub(plain, template.body)
    link = VARIABLE.sub(encoded, template.deep_link) if template.deep_link else None
    if any("[[var:" in text for text in (title, body)):
        return None, "literal_placeholder"  # a value itself held "[[var:"; never send that
    if link and link_problem(link, allowed_hosts):
        return None, "deep_link_host"
    return RenderedPush(title, body, link), None


def _heading(template: PushTemplate) -> str:
    return f"push template {template.name!r}: " if template.name else "push: "


def adhoc_template(*, title: str | None, body: str | None, deep_link: str | None, layer: int | None) -> PushTemplate:
    """A push given on the command line (the original's manual send)."""
    if layer is None:
        raise TemplateError("an ad hoc push needs --layer", hint="e.g. --layer 1 (see engine cadence rules)")
    return PushTemplate(title=title or "", body=body or "", deep_link=deep_link or None, layer=layer)
