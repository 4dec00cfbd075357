"""Typed, frozen model of an audience spec: the one declaration of every field of an audience file.

Each field is written once, here: its type (``Literal`` for a choice), its default, its bounds and
where it sits in the YAML (helpers shared with schedules.yaml's model: ``engine.schemagen``).
``engine.spec.schema`` generates ``schemas/audience.v1.json`` from these classes (``engine validate``
and editors check files against it, with located messages) and the loader builds the spec with
them, so no default or choice is repeated elsewhere.

Pydantic v2 dataclasses rather than msgspec: the engine and its tests construct these models
positionally and copy them with ``dataclasses.replace``, which pydantic dataclasses keep; and
pydantic reads a field from a nested key (``audience.from`` into ``base``) and documents an input
shape different from the attribute (a mapping of params into a tuple of ``Param``).

Constraints the file must meet but a spec built in code need not (at least one query, a
non-empty description) are ``json_schema_extra``: they are in the schema, not in ``__init__``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema

from engine.schemagen import CONFIG, Identifier, Maybe, in_block, keyed

INT4 = (-(2**31), 2**31 - 1)  # an integer param lives in PostgreSQL's int4

SqlPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+\.sql$")]  # relative to sql/
Number = int | float  # a YAML integer stays an int (6, not 6.0, in the rendered SQL)
NUMBER_OR_PARAM = {
    "description": "A number, or the name of an integer/number param (min_owners, or '{{ min_owners }}').",
    "oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*(\{\{\s*)?[A-Za-z_][A-Za-z0-9_]*(\s*\}\})?\s*$"}],
}


class UuidText(str):
    """A param value already checked to be a uuid: bound and read back as ``uuid``, formatted as text."""


def param_reference(value: Any) -> str | None:
    """The param a number field names (``min_owners`` or ``'{{ min_owners }}'``), None for a number."""
    if not isinstance(value, str):
        return None
    return value.strip().removeprefix("{{").removesuffix("}}").strip()


@dataclass(frozen=True, config=CONFIG)
class Param:
    name: SkipJsonSchema[str]  # the params: mapping's key
    type: Literal["integer", "number", "string", "boolean", "uuid", "timestamp"]
    default: Any = None
    required: bool = False
    minimum: Maybe[Number] = None
    maximum: Maybe[Number] = None
    enum: Maybe[tuple[Any, ...]] = None
    description: str = ""


@dataclass(frozen=True, config=CONFIG)
class Bind:
    """A bound array parameter: the distinct non-null values of ``column`` from an earlier query."""

    param: SkipJsonSchema[str]  # the bind: mapping's key
    query: Identifier
    column: Identifier


@dataclass(frozen=True, config=CONFIG)
class QuerySpec:
    name: Identifier
    sql: SqlPath
    binds: Annotated[
        tuple[Bind, ...], BeforeValidator(keyed("param"), json_schema_input_type=dict[Identifier, Bind])
    ] = Field((), validation_alias="bind")
    options: dict[str, Any] = Field(default_factory=dict, description="structural template variables (never values)")
    description: str = ""


@dataclass(frozen=True, config=CONFIG)
class Join:
    query: Identifier
    using: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    how: Literal["inner", "left"] = "left"


@dataclass(frozen=True, config=CONFIG)
class OrderRule:
    column: Identifier
    direction: Literal["asc", "desc"] = "asc"
    values: Maybe[Annotated[tuple[str | int, ...], Field(min_length=1)]] = None  # explicit rank: first sorts first


@dataclass(frozen=True, config=CONFIG)
class Requirement:
    column: Identifier
    blank: Literal["allow", "reject"] = "allow"  # reject: empty or whitespace-only text is dropped too


@dataclass(
    frozen=True,
    config=ConfigDict(**CONFIG, json_schema_extra={"anyOf": [{"required": ["min"]}, {"required": ["max"]}]}),
)
class Threshold:
    """A minimum/maximum count per segment; ``min_param``/``max_param`` name a param giving the bound."""

    column: Identifier
    segment: Maybe[Identifier] = None
    min: Annotated[Number | None, WithJsonSchema(NUMBER_OR_PARAM)] = None
    max: Annotated[Number | None, WithJsonSchema(NUMBER_OR_PARAM)] = None
    min_param: SkipJsonSchema[str | None] = None
    max_param: SkipJsonSchema[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _split_param_names(cls, data: Any) -> Any:
        """``min: min_owners`` in the file is ``min_param`` here (bound to a number per run)."""
        if isinstance(data, dict):
            data = dict(data)
            for bound in ("min", "max"):
                name = param_reference(data.get(bound))
                if name is not None:
                    data[bound], data[f"{bound}_param"] = None, name
        return data

    @property
    def label(self) -> str:
        bounds = " and ".join(
            b
            for b in (
                f">= {self.min:g}" if self.min is not None else "",
                f"<= {self.max:g}" if self.max is not None else "",
            )
            if b
        )
        return f"{self.segment or 'all'}: {self.column} {bounds}"


@dataclass(
    frozen=True,
    config=ConfigDict(**CONFIG, json_schema_extra={"oneOf": [{"required": ["column"]}, {"required": ["value"]}]}),
)
class OutputColumn:
    header: SkipJsonSchema[str]  # the columns: mapping's key
    column: Maybe[Identifier] = None
    value: Maybe[str | int | float] = None
    format: Literal["text", "python_datetime"] = "text"


@dataclass(frozen=True, config=CONFIG)
class TestSpec:
    file: str
    user_fields: tuple[str, ...] = ("user_id", "username", "firstName", "usersize", "lastActive")
    values: dict[str, Any] = Field(default_factory=dict)
    source_row: Annotated[int, Field(ge=1)] | None = 1
    fallback: dict[str, Any] = Field(default_factory=dict)
    when_empty: Literal["skip", "write"] = "skip"


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class OutputSpec:
    name: Identifier
    file: Annotated[str, Field(pattern=r"^[^/\\]+\.csv$")]
    columns: Annotated[
        tuple[OutputColumn, ...],
        BeforeValidator(
            keyed("header", shorthand="column"), json_schema_input_type=dict[str, Identifier | OutputColumn]
        ),
        Field(json_schema_extra={"minProperties": 1}),
    ]
    order_by: Annotated[tuple[OrderRule, ...], Field(json_schema_extra={"minItems": 1})]
    segment: Maybe[Identifier] = None
    when_empty: Literal["skip", "write"] = "skip"
    test: Maybe[TestSpec] = None
    description: str = ""


@dataclass(frozen=True, config=ConfigDict(**CONFIG, title="Audience spec v1"), kw_only=True)
class AudienceSpec:
    name: Identifier
    description: Annotated[str, AfterValidator(str.strip), Field(json_schema_extra={"minLength": 1})]
    layer: Annotated[int, Field(ge=1, le=5)]
    path: SkipJsonSchema[Path]  # where it was read from (not written in the file)
    display_path: SkipJsonSchema[str]  # that path as messages show it
    params: Annotated[
        tuple[Param, ...], BeforeValidator(keyed("name"), json_schema_input_type=dict[Identifier, Param])
    ] = ()
    queries: Annotated[tuple[QuerySpec, ...], Field(json_schema_extra={"minItems": 1})]
    base: Identifier = in_block("audience", "from")
    joins: tuple[Join, ...] = in_block("audience", "join", default=())
    outputs: Annotated[tuple[OutputSpec, ...], Field(json_schema_extra={"minItems": 1})]
    when_empty: Literal["write_outputs", "no_files", "no_files_before_thresholds"] = in_block(
        "audience", "when_empty", default="write_outputs"
    )
    prioritise_key: Annotated[tuple[Identifier, ...], Field(json_schema_extra={"minItems": 1})] = in_block(
        "prioritise", "key", default=(), required=True
    )
    prioritise_order: Annotated[tuple[OrderRule, ...], Field(json_schema_extra={"minItems": 1})] = in_block(
        "prioritise", "order", default=(), required=True
    )
    require: tuple[Requirement, ...] = ()
    segments: dict[Identifier, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    thresholds: tuple[Threshold, ...] = ()
    transform: Maybe[SqlPath] = None
    metrics: dict[Identifier, str] = Field(default_factory=dict)
    owner: Maybe[str] = None
    tags: tuple[str, ...] = ()

    def query(self, name: str) -> QuerySpec:
        return next(q for q in self.queries if q.name == name)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
