"""YAML with line numbers: parse errors and schema violations point at ``file:line:col``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import jsonschema
import yaml

from engine.errors import ConfigError, SourceLocation


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data plus the node tree that remembers where each value was written."""

    data: Any
    node: yaml.Node | None
    source: str

    def locate(self, path: Sequence[str | int]) -> SourceLocation:
        """The location of the value at ``path`` (or of its deepest existing parent)."""
        node = self.node
        for key in path:
            child = _child(node, key)
            if child is None:
                break
            node = child
        key_path = _key_path(path)
        if node is None:
            return SourceLocation(self.source, key_path=key_path)
        return SourceLocation(self.source, node.start_mark.line + 1, node.start_mark.column + 1, key_path)


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(key):
                return value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _key_path(path: Sequence[str | int]) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or None


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text``; a syntax error becomes a ConfigError at the offending line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {getattr(err, 'problem', None) or err}",
            location=SourceLocation(source, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
        ) from err
    return YamlDocument(data, node, source)


@lru_cache(maxsize=1)
def cadence_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (engine/cadence/schema.json)."""
    return json.loads(resources.files("engine.cadence").joinpath("schema.json").read_text(encoding="utf-8"))


def schema_errors(doc: YamlDocument, value: Any, *, definition: str | None = None,
                  base_path: Sequence[str | int] = ()) -> list[ConfigError]:
    """Every schema violation of ``value`` (the whole file, or one ``$defs`` entry), located."""
    schema = cadence_schema()
    if definition:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(schema)
    found = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [ConfigError(_describe(err), location=doc.locate([*base_path, *err.absolute_path]))
            for err in found]


def _describe(err: jsonschema.ValidationError) -> str:
    where = _key_path(list(err.absolute_path))
    if err.validator == "oneOf":
        expected = err.schema.get("description") if isinstance(err.schema, dict) else None
        message = f"{err.instance!r} is not a valid value" + (f" (expected {expected})" if expected else "")
    else:
        message = err.message
    return f"{where}: {message}" if where else message


def raise_all(errors: list[ConfigError]) -> None:
    """Raise one ConfigError listing every problem, each with its own location."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    lines = [f"{e.location}: {e.message}" if e.location else e.message for e in errors]
    raise ConfigError(f"{len(errors)} problems:\n  " + "\n  ".join(lines))
