"""Cadence rules as data: the layers and rules of ``cadence.yaml``, validated, with per-automation overrides.

The project's ``cadence.yaml`` wins; without one the defaults shipped in the package
(``engine/cadence/defaults.yaml``, the original service's seeded rules) apply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from engine.documents import Document, load, packaged_schema, parse, schema_problems
from engine.errors import ConfigError, SourceLocation

CADENCE_FILE = "cadence.yaml"


def cadence_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (engine/cadence/schema.json)."""
    return packaged_schema("engine.cadence", "schema.json")


def raise_all(errors: list[ConfigError]) -> None:
    """Raise one ConfigError listing every problem, each with its own location."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    lines = [f"{e.location}: {e.message}" if e.location else e.message for e in errors]
    raise ConfigError(f"{len(errors)} problems:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Layer:
    """A notification layer. ``cadence`` is apply | exempt | bypass."""

    id: int
    name: str
    description: str
    cadence: str


@dataclass(frozen=True)
class Rule:
    """Block a push of a layer in ``applies_to`` when the user already has ``max_count``
    pushes of ``counts_layers`` in the ``window_hours`` before ``as_of``."""

    name: str
    description: str
    applies_to: tuple[int, ...] | None  # None: every layer whose cadence is "apply"
    counts_layers: tuple[int, ...]
    window_hours: float
    max_count: int
    enabled: bool = True

    def gates(self, layer: Layer) -> bool:
        """Whether this rule is checked for a push of ``layer``."""
        if not self.enabled or layer.cadence != "apply":
            return False
        return self.applies_to is None or layer.id in self.applies_to


@dataclass(frozen=True)
class CadenceConfig:
    """The effective layers and ordered rules, and where they came from."""

    layers: tuple[Layer, ...]
    rules: tuple[Rule, ...]
    source: str
    override: str | None = None  # where the applied per-automation override came from

    def layer(self, ref: int | str) -> Layer:
        """A layer by id, or by name (case-insensitive); ConfigError when unknown."""
        for layer in self.layers:
            if layer.id == ref or (
                isinstance(ref, str) and (layer.name.lower() == ref.strip().lower() or ref.strip() == str(layer.id))
            ):
                return layer
        known = ", ".join(f"{layer.id} ({layer.name})" for layer in self.layers)
        raise ConfigError(
            f"unknown notification layer {ref!r}",
            location=SourceLocation(self.source),
            hint=f"layers configured: {known}",
        )

    def rules_for(self, layer: Layer) -> tuple[Rule, ...]:
        """The enabled rules that gate ``layer``, in evaluation order."""
        return tuple(rule for rule in self.rules if rule.gates(layer))

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise ConfigError(
            f"unknown cadence rule {name!r}",
            hint=f"rules in {self.source}: {', '.join(r.name for r in self.rules) or 'none'}",
        )


def load_cadence_config(project_dir: Path) -> CadenceConfig:
    """The project's ``cadence.yaml``, or the packaged defaults when the project has none."""
    path = project_dir / CADENCE_FILE
    if path.exists():
        return cadence_config(load(path, str(path), error=ConfigError))
    return default_cadence_config()


def default_cadence_config() -> CadenceConfig:
    """The original service's rules, as shipped in ``engine/cadence/defaults.yaml``."""
    text = resources.files("engine.cadence").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return parse_cadence_config(text, "<engine defaults>")


def parse_cadence_config(text: str, source: str) -> CadenceConfig:
    """Parse and validate cadence YAML; every problem is reported with file:line:col."""
    return cadence_config(parse(text, source, error=ConfigError))


def cadence_config(doc: Document) -> CadenceConfig:
    """The layers and rules of a parsed cadence document, validated (every problem at once)."""
    raise_all(schema_problems(doc, cadence_schema(), error=ConfigError, at_value=True))
    layers = tuple(
        Layer(int(item["id"]), str(item["name"]), str(item.get("description", "")), item["cadence"])
        for item in doc.data["layers"]
    )
    rules = tuple(_rule(item) for item in doc.data["rules"])
    raise_all(_consistency_errors(doc, layers, rules))
    return CadenceConfig(layers, rules, doc.display)


def _rule(item: Mapping[str, Any]) -> Rule:
    applies = item["applies_to"]
    return Rule(
        name=item["name"],
        description=str(item.get("description", "")),
        applies_to=None if applies == "all" else tuple(int(x) for x in applies),
        counts_layers=tuple(int(x) for x in item["counts_layers"]),
        window_hours=float(item["window_hours"]),
        max_count=int(item["max_count"]),
        enabled=bool(item.get("enabled", True)),
    )


def _consistency_errors(doc: Document, layers: tuple[Layer, ...], rules: tuple[Rule, ...]) -> list[ConfigError]:
    """What the schema cannot say: unique ids and names, rules naming configured layers."""
    errors: list[ConfigError] = []
    by_id: dict[int, Layer] = {}
    names: set[str] = set()
    for index, layer in enumerate(layers):
        if layer.id in by_id:
            errors.append(
                ConfigError(f"duplicate layer id {layer.id}", location=doc.locate_value(["layers", index, "id"]))
            )
        if layer.name.lower() in names:
            errors.append(
                ConfigError(
                    f"duplicate layer name {layer.name!r}", location=doc.locate_value(["layers", index, "name"])
                )
            )
        by_id[layer.id] = layer
        names.add(layer.name.lower())
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.name in seen:
            errors.append(
                ConfigError(f"duplicate rule name {rule.name!r}", location=doc.locate_value(["rules", index, "name"]))
            )
        seen.add(rule.name)
        for field_name, ids in (("counts_layers", rule.counts_layers), ("applies_to", rule.applies_to or ())):
            for position, layer_id in enumerate(ids):
                where = doc.locate_value(["rules", index, field_name, position])
                if layer_id not in by_id:
                    errors.append(
                        ConfigError(
                            f"rule {rule.name!r} names layer {layer_id}, which is not configured", location=where
                        )
                    )
                elif field_name == "applies_to" and by_id[layer_id].cadence != "apply":
                    errors.append(
                        ConfigError(
                            f"rule {rule.name!r} applies to layer {layer_id}, whose cadence is "
                            f"{by_id[layer_id].cadence!r}: it would never be checked",
                            location=where,
                            hint="set the layer's cadence to 'apply' or remove it from applies_to",
                        )
                    )
    return errors


def apply_override(
    config: CadenceConfig,
    override: Mapping[str, Any] | None,
    *,
    source: str = "cadence override",
    doc: Document | None = None,
    base_path: tuple[str | int, ...] = (),
) -> CadenceConfig:
    """``config`` with one automation's ``cadence:`` mapping applied (rule name -> new value).

    A number sets the rule's ``window_hours`` (only for rules with ``max_count: 1``, where it
    cannot be mistaken for a count), ``false``/``true`` disables/enables the rule, and a
    mapping sets any of ``window_hours``, ``max_count``, ``enabled``. ``doc``/``base_path``
    locate errors in the file the override came from.
    """
    if override is None:
        return config
    doc = doc or Document.unplaced(override, source)
    raise_all(
        schema_problems(
            doc,
            cadence_schema(),
            error=ConfigError,
            value=override,
            definition="override",
            base_path=base_path,
            at_value=True,
        )
    )
    known = {rule.name: rule for rule in config.rules}
    errors: list[ConfigError] = []
    changes: dict[str, Rule] = {}
    for name, value in override.items():
        where = doc.locate_value([*base_path, name])
        if name not in known:
            errors.append(
                ConfigError(
                    f"cadence override names unknown rule {name!r}",
                    location=doc.locate([*base_path, name]),
                    hint=f"rules in {config.source}: {', '.join(known) or 'none'}",
                )
            )
            continue
        rule = known[name]
        if isinstance(value, bool):
            changes[name] = replace(rule, enabled=value)
        elif isinstance(value, (int, float)):
            if rule.max_count != 1:
                errors.append(
                    ConfigError(
                        f"a bare number for {name!r} is ambiguous (the rule allows {rule.max_count} pushes per "
                        f"{rule.window_hours:g} h)",
                        location=where,
                        hint=f"write {{window_hours: {value}}} or {{max_count: {value}}}",
                    )
                )
                continue
            changes[name] = replace(rule, window_hours=float(value))
        else:
            fields: dict[str, Any] = {k: (float(v) if k == "window_hours" else v) for k, v in value.items()}
            changes[name] = replace(rule, **fields)
    raise_all(errors)
    rules = tuple(changes.get(rule.name, rule) for rule in config.rules)
    return CadenceConfig(config.layers, rules, config.source, override=source)
