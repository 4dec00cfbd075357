"""Located YAML documents: the one loader for audiences, schedules.yaml, cadence.yaml and engine.yaml.

Every problem in a project YAML file (bad bytes, bad syntax, duplicate keys, alias bombs,
JSON Schema violations) comes back as an ``EngineError`` of the caller's kind that points
at ``file:line:col``; callers never see a PyYAML or jsonschema exception. A file is parsed
once per process while it is unchanged, so a command that needs schedules.yaml in three
places reads it once.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar

import jsonschema
import yaml

from engine.errors import EngineError, SourceLocation, SpecError

KeyPath = tuple[str | int, ...]
Mark = tuple[int, int]
ErrorType = Callable[..., EngineError]
E = TypeVar("E", bound=EngineError)

# Values that YAML aliases may add on top of the document's own nodes. Real project files use a
# few merge keys; a "billion laughs" file multiplies one anchor into billions of values.
ALIAS_BUDGET = 10_000

# part of every schema verdict's key: bump when what decides a verdict changes (another draft, a format checker)
SCHEMA_CHECK_VERSION = "1"

# libyaml's parser composes ~14x faster than the pure-Python one; same nodes, same marks
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=None)
def packaged_schema(package: str, name: str) -> dict[str, Any]:
    """A JSON Schema shipped in an engine package (``packaged_schema("engine.spec", "schemas/x.json")``), read once."""
    return dict(json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8")))


def format_key_path(key_path: Sequence[str | int]) -> str:
    """``("outputs", 0, "segment")`` as ``outputs[0].segment``."""
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Document:
    """Parsed YAML data plus where every key and every value was written (1-based line, column)."""

    display: str
    data: Any
    keys: Mapping[KeyPath, Mark]  # a mapping key's position; a sequence item's own position
    values: Mapping[KeyPath, Mark]  # where the value at that path starts
    path: Path | None = None

    def locate(self, key_path: Sequence[str | int]) -> SourceLocation:
        """Location of the key at ``key_path`` (or of its deepest existing parent)."""
        return self._find(self.keys, tuple(key_path))

    def locate_value(self, key_path: Sequence[str | int]) -> SourceLocation:
        """Location of the value at ``key_path`` (or of its deepest existing parent)."""
        return self._find(self.values, tuple(key_path))

    def _find(self, marks: Mapping[KeyPath, Mark], key_path: KeyPath) -> SourceLocation:
        for end in range(len(key_path), -1, -1):
            mark = marks.get(key_path[:end])
            if mark:
                return SourceLocation(self.display, mark[0], mark[1], format_key_path(key_path) or None)
        return SourceLocation(self.display, key_path=format_key_path(key_path) or None)

    @classmethod
    def unplaced(cls, data: Any, display: str) -> Document:
        """Data that did not come from a file (errors name ``display`` without a line)."""
        return cls(display, data, {}, {})


def decode(data: bytes, display: str, *, error: ErrorType = SpecError) -> str:
    """UTF-8 text of a project file (a BOM is dropped); other bytes are a located error, not a traceback."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise error(
            f"not UTF-8: byte 0x{data[err.start]:02x} cannot be decoded",
            location=SourceLocation(display, line, col),
            hint="save the file as UTF-8",
        ) from None


def read_text(path: Path, display: str, *, error: ErrorType = SpecError) -> str:
    """A project text file (YAML or SQL) as UTF-8; unreadable or undecodable files are located errors."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise error(f"cannot read file: {err.strerror}", location=SourceLocation(display)) from None
    return decode(data, display, error=error)


class _Builder:
    """Turns a composed node tree into plain data, recording marks and bounding alias expansion."""

    def __init__(self, loader: Any, display: str, error: ErrorType, budget: int) -> None:
        self.loader = loader
        self.display = display
        self.error = error
        self.keys: dict[KeyPath, Mark] = {}
        self.values: dict[KeyPath, Mark] = {}
        self.budget = budget

    def _at(self, node: yaml.Node) -> SourceLocation:
        return SourceLocation(self.display, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.error(
                f"YAML aliases expand to more than {ALIAS_BUDGET:,} values (an alias bomb?)",
                location=self._at(node),
                hint="write the values out, or use fewer nested aliases",
            )
        mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.keys.setdefault(path, mark)
        self.values.setdefault(path, mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._text(self.loader.construct_object(node, deep=True), node)

    def _text(self, value: Any, node: yaml.Node) -> Any:
        """A scalar as built; a string holding NUL (a ``"\\0"`` escape) or a lone surrogate is a located error.

        No project value can carry either: PostgreSQL text, file names and pushes refuse NUL, and a
        lone surrogate (``"\\ud800"``) cannot be written as UTF-8.
        """
        if isinstance(value, str):
            if "\0" in value:
                raise self.error(
                    "a NUL character (\\0) in a value: project files hold text, and NUL cannot "
                    "reach PostgreSQL, a file name or a push",
                    location=self._at(node),
                    hint="remove the \\0 escape from this value",
                )
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                raise self.error(
                    f"a value holds U+{ord(value[err.start]):04X}, which is not a character (a lone surrogate)",
                    location=self._at(node),
                    hint="write the character itself, or a \\U escape of a real code point",
                ) from None
        return value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        explicit: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node)
            if key in explicit:
                raise self.error(
                    f"duplicate key {key!r}", location=self._at(key_node), hint="each key may appear once per mapping"
                )
            explicit.add(key)
        self.loader.flatten_mapping(node)  # resolve `<<: *anchor` merge keys; explicit keys win
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if key not in out or line > self.keys.get(path + (key,), (0, 0))[0]:
                self.keys[path + (key,)] = (line, key_node.start_mark.column + 1)
                self.values.pop(path + (key,), None)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error("a mapping key must be a plain value, not a list or mapping", location=self._at(node))
        return self._text(self.loader.construct_object(node, deep=True), node)


def _count_nodes(root: yaml.Node) -> int:
    """Distinct nodes of the composed graph (aliases share nodes, so this is the file's own size)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return len(seen)


def _character(code: Any) -> str:
    if code == 0:
        return "a NUL byte (0x00)"
    return f"character U+{code:04X}" if isinstance(code, int) else f"character {code!r}"


def _find(text: str, display: str, code: Any) -> SourceLocation:
    """Where the reader's refused character is: its first occurrence (the reader stops at the first one)."""
    at = text.find(chr(code)) if isinstance(code, int) else -1
    if at < 0:
        return SourceLocation(display)
    return SourceLocation(display, text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1)


def parse(
    text: str, display: str, *, error: ErrorType = SpecError, path: Path | None = None, empty_ok: bool = False
) -> Document:
    """Parse one YAML document; syntax errors, duplicate keys and alias bombs are located ``error``s."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            if empty_ok:
                return Document(display, None, {(): (1, 1)}, {(): (1, 1)}, path)
            raise error("the file is empty", location=SourceLocation(display, 1, 1))
        builder = _Builder(loader, display, error, _count_nodes(node) + ALIAS_BUDGET)
        data = builder.build(node, ())
    except yaml.reader.ReaderError as err:  # a character YAML refuses (NUL, other controls): no mark of its own
        raise error(
            f"invalid YAML: {_character(err.character)} is not allowed in a YAML file",
            location=_find(text, display, err.character),
            hint="remove it; a file full of NUL bytes was saved as UTF-16 or is not text",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise error(
            f"invalid YAML: {problem}",
            location=SourceLocation(display, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
            hint="check indentation, colons and quoting around this line",
        ) from None
    except RecursionError:
        raise error("YAML nesting is too deep", location=SourceLocation(display, 1, 1)) from None
    finally:
        loader.dispose()
    return Document(display, data, builder.keys, builder.values, path)


def load(path: Path, display: str, *, error: ErrorType = SpecError, empty_ok: bool = False) -> Document:
    """Read and parse a project YAML file, once per process while it is unchanged on disk."""
    try:
        stat = path.stat()
    except OSError as err:
        raise error(f"cannot read file: {err.strerror}", location=SourceLocation(display)) from None
    return _load(path.resolve(), display, error, empty_ok, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _load(path: Path, display: str, error: ErrorType, empty_ok: bool, _mtime_ns: int, _size: int) -> Document:
    return parse(read_text(path, display, error=error), display, error=error, path=path, empty_ok=empty_ok)


def _properties(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    return sorted(schema.get("properties", {}))


class KnownValid(Protocol):
    """Keys of data known to pass its schema (``engine validate`` keeps them between runs; a set will do)."""

    def __contains__(self, key: object) -> bool: ...

    def add(self, key: str) -> None: ...


def schema_key(schema: Mapping[str, Any], target: Any) -> str:
    """Everything that decides whether ``target`` passes ``schema`` (given jsonschema's version).

    ``repr`` keeps YAML's types apart (``1``, ``'1'``, ``True``, a date) and never contains a NUL.
    """
    return "\0".join((SCHEMA_CHECK_VERSION, repr(schema), repr(target)))


def _suggestions(err: Any, root: Mapping[str, Any]) -> dict[Any, str | None]:
    """Each unknown key of an ``additionalProperties`` error, with the allowed key it is closest to."""
    allowed = _properties(err.schema, root)
    return {
        key: next(iter(difflib.get_close_matches(str(key), allowed, n=1)), None)
        for key in sorted(set(err.instance) - set(allowed), key=str)
    }


def schema_problems(
    doc: Document,
    schema: Mapping[str, Any],
    *,
    error: Callable[..., E],
    value: Any = None,
    definition: str | None = None,
    base_path: KeyPath = (),
    at_value: bool = False,
    known_valid: KnownValid | None = None,
) -> list[E]:
    """Every JSON Schema violation, each located and worded for a person; unknown keys get "did you mean".

    ``value``/``base_path`` check a part of the document (default: all of it); ``definition``
    checks against one ``$defs`` entry; ``at_value`` points at values instead of keys.
    ``known_valid`` skips data that passed before (validating is most of a warm ``engine validate``).
    """
    root = schema
    if definition:
        schema = {"$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}
    locate = doc.locate_value if at_value else doc.locate
    target = doc.data if value is None else value
    key = schema_key(schema, target) if known_valid is not None else ""
    if known_valid is not None and key in known_valid:
        return []
    problems: list[E] = []
    found = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(target), key=lambda e: [str(p) for p in e.absolute_path]
    )
    # a misspelt required key is one mistake: "unknown key 'layr' (did you mean 'layer'?)" says it, so the
    # "'layer' is a required property" it causes is not reported too
    said = {
        f"{close!r} is a required property"
        for err in found
        if err.validator == "additionalProperties" and isinstance(err.instance, dict)
        for close in _suggestions(err, root).values()
        if close
    }
    for err in found:
        path: KeyPath = base_path + tuple(err.absolute_path)
        where = format_key_path(path) or "(top level)"
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = _properties(err.schema, root)
            for key, close in _suggestions(err, root).items():
                problems.append(
                    error(
                        f"unknown key {key!r} in {where}",
                        location=doc.locate(path + (key,)),
                        hint=f"did you mean {close!r}?" if close else f"allowed keys: {', '.join(allowed)}",
                    )
                )
        elif err.validator == "required" and err.message in said:
            continue
        elif err.validator == "oneOf" and isinstance(err.schema, dict) and err.schema.get("description"):
            problems.append(
                error(
                    f"{where}: {err.instance!r} is not a valid value (expected {err.schema['description']})",
                    location=locate(path),
                )
            )
        elif err.validator == "oneOf" and err.context:
            best = min(err.context, key=lambda e: len(list(e.absolute_path)))
            problems.append(error(f"{where}: {best.message}", location=locate(path)))
        else:
            problems.append(error(f"{where}: {err.message}", location=locate(path)))
    if known_valid is not None and not problems:
        known_valid.add(key)
    return problems
