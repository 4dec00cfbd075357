"""The audience JSON Schema, generated from ``engine.spec.model``; ``python -m engine.spec.schema`` writes it.

The committed ``schemas/audience.v1.json`` is what ``engine validate`` checks files against and what
editors read; a test proves it equals what this module generates, so the model stays the only
declaration. Pydantic's output is tidied into the shapes our located messages are worded for:
a field inside a YAML block is moved into that block, a union of plain types is one ``type`` list
(one message, not "not valid under any of the given schemas"), other unions are ``oneOf`` (the model's
unions have disjoint branches, and ``oneOf`` gets the closest branch's message), and a choice lists
its values without a redundant ``type``.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from engine.spec.model import IN_BLOCK, AudienceSpec

SCHEMA_FILE = "schemas/audience.v1.json"
HEADER = {"$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://audience-engine/schemas/audience.v1.json"}


class _Generator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False   # a title per key ("Prioritise Key") says nothing the key does not


def generate() -> dict[str, Any]:
    """The audience schema as generated from the model (validation side: what a file may say)."""
    schema = TypeAdapter(AudienceSpec).json_schema(schema_generator=_Generator, mode="validation")
    return {**HEADER, **_tidy(schema)}


_NAMED = {"properties", "$defs"}   # mappings of names to schemas, not schemas themselves


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: {name: _tidy(sub) for name, sub in value.items()} if key in _NAMED else _tidy(value)
            for key, value in node.items()}
    if node.get("default", 0) is None or (node.get("type") == "object" and node.get("default") == []):
        del node["default"]   # "absent" is not a null the file may write; a mapping's empty tuple is not a list
    if "enum" in node:
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
        return node   # alternatives of another kind (``required: [min]`` or ``[max]``) may both hold
    del node["anyOf"]
    if all(set(b) - {"minimum", "maximum"} == {"type"} and isinstance(b["type"], str) for b in branches):
        merged: dict[str, Any] = {}
        for branch in branches:
            merged.update(branch)
        types = [b["type"] for b in branches]
        if "number" in types and "integer" in types:
            types.remove("integer")   # an integer is a number
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
        block = properties.setdefault(block_name, {"type": "object", "additionalProperties": False,
                                                   "required": [], "properties": {}})
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


@lru_cache(maxsize=None)
def audience_schema() -> dict[str, Any]:
    """The audience JSON Schema shipped in the package (the committed, generated file)."""
    return json.loads(resources.files("engine.spec").joinpath(SCHEMA_FILE).read_text("utf-8"))


def render() -> str:
    """The schema file's text: the generated schema, indented, ending in a newline."""
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the generated schema over the committed file (run after changing the model)."""
    target = Path(__file__).with_name("schemas") / "audience.v1.json"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
