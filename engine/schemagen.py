"""Typed models as the one declaration of a project YAML file: shared field shapes and the schema generator.

A file's model (``engine.spec.model``, ``engine.schedules.model``) declares each field once, as a
pydantic dataclass field; ``generate`` turns the model into the JSON Schema committed beside it,
which ``engine validate`` checks files against (``engine.documents.schema_problems``) and editors read.

Pydantic's output is tidied into the shapes those located messages are worded for: a field written
inside a YAML block (``in_block``) is moved into that block, a union of plain types becomes one
``type`` list (one message, not "not valid under any of the given schemas"), other unions become
``oneOf`` (our unions have disjoint branches, and ``oneOf`` reports the closest branch), and a
choice lists its values without a redundant ``type``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping, TypeAlias, TypeVar

from pydantic import AliasPath, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, SkipJsonSchema

from engine.documents import Document, ErrorType, format_key_path

# forbid: the schema says additionalProperties: false; by name: code builds models with attribute names
CONFIG = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
IN_BLOCK = "x-in-block"  # schema marker of a field written inside a YAML block; ``generate`` moves it there
DIALECT = "https://json-schema.org/draft/2020-12/schema"

T = TypeVar("T")
# a key the file may leave out, but not set to null (the schema shows no null)
Maybe: TypeAlias = T | SkipJsonSchema[None]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def in_block(
    block: str, key: str, *, default: Any = ..., required: bool = False, description: str | None = None
) -> Any:
    """A field the file writes as ``block: {key: ...}``; ``required``: the block, when written, must have it."""
    return Field(
        default,
        validation_alias=AliasPath(block, key),
        description=description,
        json_schema_extra={IN_BLOCK: [block, key, required]},
    )


def keyed(key: str, shorthand: str | None = None) -> Callable[[Any], Any]:
    """A YAML mapping ``{name: {...}}`` as a list of items carrying ``key: name`` (a tuple passes as is).

    ``shorthand``: an item written as a plain string means ``{shorthand: string}``.
    """

    def to_items(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return [
            {key: name, **({shorthand: item} if shorthand and isinstance(item, str) else item)}
            for name, item in value.items()
        ]

    return to_items


def build(model: TypeAdapter[T], doc: Document, data: Mapping[str, Any], *, error: ErrorType) -> T:
    """``data`` (``doc`` after its schema passed, plus what the loader adds) as the typed model."""
    try:
        return model.validate_python(data)
    except ValidationError as err:  # the schema is generated from the model: a bug, still a located error
        first = err.errors()[0]
        raise error(f"{format_key_path(first['loc'])}: {first['msg']}", location=doc.locate(first["loc"])) from None


class TidyGenerator(GenerateJsonSchema):
    """Pydantic's generator without a title per key ("Prioritise Key" says nothing the key does not)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def generate(model: Any, schema_id: str, *, generator: type[GenerateJsonSchema] = TidyGenerator) -> dict[str, Any]:
    """The JSON Schema of what a file may say for ``model`` (validation side), tidied (see the module doc)."""
    schema = TypeAdapter(model).json_schema(schema_generator=generator, mode="validation")
    return {"$schema": DIALECT, "$id": schema_id, **_tidy(schema)}


def render(schema: dict[str, Any]) -> str:
    """A schema file's text: indented, ending in a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_committed(target: Path, schema: dict[str, Any]) -> None:
    """Write a generated schema over its committed file (``python -m engine.spec.schema`` and the like)."""
    target.write_text(render(schema), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


_NAMED = {"properties", "$defs"}  # mappings of names to schemas, not schemas themselves


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: {name: _tidy(sub) for name, sub in value.items()} if key in _NAMED else _tidy(value)
        for key, value in node.items()
    }
    if node.get("default", 0) is None or (node.get("type") == "object" and node.get("default") == []):
        del node["default"]  # "absent" is not a null the file may write; a mapping's empty tuple is not a list
    if "enum" in node or "const" in node:
        node.pop("type", None)
    if "anyOf" in node:
        node = _union(node)
    if "patternProperties" in node and "additionalProperties" not in node:
        [(pattern, item)] = node.pop("patternProperties").items()
        node["propertyNames"], node["additionalProperties"] = {"pattern": pattern}, item
    if any(isinstance(p, dict) and IN_BLOCK in p for p in node.get("properties", {}).values()):
        _nest_blocks(node)
    return node


def _union(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf`` of types as one ``type`` list when every branch is a plain type, else as ``oneOf``."""
    branches = node["anyOf"]
    if not all("type" in b or "$ref" in b for b in branches):
        return node  # alternatives of another kind (``required: [min]`` or ``[max]``) may both hold
    del node["anyOf"]
    if all(set(b) - {"minimum", "maximum"} == {"type"} and isinstance(b["type"], str) for b in branches):
        merged: dict[str, Any] = {}
        for branch in branches:
            merged.update(branch)
        types = [b["type"] for b in branches]
        if "number" in types and "integer" in types:
            types.remove("integer")  # an integer is a number
        return {**node, **merged, "type": types[0] if len(types) == 1 else types}
    return {**node, "oneOf": branches}


def _nest_blocks(node: dict[str, Any]) -> None:
    """Move each field marked ``IN_BLOCK`` into its block's object (``base`` into ``audience.from``)."""
    properties: dict[str, Any] = {}
    required = node.get("required", [])
    needed: list[str] = []
    for name, prop in node["properties"].items():
        if not (isinstance(prop, dict) and IN_BLOCK in prop):
            properties[name] = prop
            continue
        block_name, key, required_in_block = prop.pop(IN_BLOCK)
        block = properties.setdefault(
            block_name, {"type": "object", "additionalProperties": False, "required": [], "properties": {}}
        )
        if required_in_block:
            prop.pop("default", None)
        block["properties"][key] = prop
        if required_in_block or name in required:
            block["required"].append(key)
        if name in required:
            needed.append(block_name)
            required.remove(name)
    for block in properties.values():
        if isinstance(block, dict) and block.get("required") == []:
            del block["required"]
    node["properties"] = properties
    node["required"] = [*required, *dict.fromkeys(needed)]
    if not node["required"]:
        del node["required"]
