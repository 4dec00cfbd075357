"""Where setting values come from: flags, environment variables and the profile file (engine.yaml).

Each source hands pydantic-settings its values keyed by setting name and can say where one came
from, so a value that fails its check is reported at its flag, its variable, or its file:line:col.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from engine.documents import KeyPath, load
from engine.errors import ConfigError, SourceLocation


class Given(PydanticBaseSettingsSource):
    """Values already keyed by setting name; ``origin`` names where they came from in an error."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any], origins: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.values = dict(values)
        self._origins = origins

    def origin(self, name: str) -> str:
        """How the user wrote this setting here (a flag, a variable)."""
        return self._origins.get(name, name)

    def locate(self, name: str, rest: KeyPath = ()) -> SourceLocation | None:
        """Where in a file the value of ``name`` was written; None for a flag or a variable."""
        return None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """pydantic-settings' per-field lookup (unused: ``__call__`` gives every value at once)."""
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def flags(settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> Given:
    """Command-line flags (already parsed by click), named ``--like-this`` in errors."""
    return Given(settings_cls, values, {name: f"--{name.replace('_', '-')}" for name in values})


def environment(settings_cls: type[BaseSettings], env: Mapping[str, str], variables: Mapping[str, str]) -> Given:
    """The settings' variables (``variables``: setting -> variable) that are set and not empty."""
    present = {name: var for name, var in variables.items() if env.get(var)}
    return Given(settings_cls, {name: env[var] for name, var in present.items()}, present)


class ProfileFile(Given):
    """engine.yaml (or ENGINE_CONFIG's file): its top-level settings, then the selected profile's on top."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, profile: str | None, known: set[str]) -> None:
        self.doc = load(path, str(path), error=ConfigError, empty_ok=True)
        self.paths: dict[str, KeyPath] = {}
        data = self._mapping(self.doc.data or {}, ())
        profiles = self._mapping(data.get("profiles") or {}, ("profiles",))
        for key in data:
            if key != "profiles":
                self.paths[str(key)] = (key,)
        if profile:
            if profile not in profiles:
                raise ConfigError(
                    f"profile {profile!r} not found in {path}",
                    hint=f"known profiles: {', '.join(sorted(profiles)) or 'none'}",
                )
            chosen = ("profiles", profile)
            self.paths.update({str(key): (*chosen, key) for key in self._mapping(profiles[profile], chosen)})
        self._refuse_unknown(set(self.paths) - known, known)
        super().__init__(settings_cls, {name: self._at(p) for name, p in self.paths.items()}, {})

    def _at(self, key_path: KeyPath) -> Any:
        value = self.doc.data
        for key in key_path:
            value = value[key]
        return value

    def _mapping(self, value: Any, key_path: KeyPath) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise ConfigError(
                "expected a mapping of setting names to values",
                location=self.doc.locate_value(key_path) if key_path else SourceLocation(self.doc.display, 1),
            )
        return value

    def _refuse_unknown(self, unknown: set[str], known: set[str]) -> None:
        if not unknown:
            return
        first = min(unknown, key=lambda name: self.doc.locate(self.paths[name]).line or 0)
        close = difflib.get_close_matches(first, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(sorted(known))}"
        raise ConfigError(
            f"unknown setting(s) in {self.doc.display}: {', '.join(sorted(unknown))}",
            location=self.doc.locate(self.paths[first]),
            hint=hint,
        )

    def origin(self, name: str) -> str:
        return self.doc.display

    def locate(self, name: str, rest: KeyPath = ()) -> SourceLocation | None:
        return self.doc.locate_value((*self.paths[name], *rest))


def no_file(settings_cls: type[BaseSettings]) -> Given:
    """No profile file: nothing from it."""
    return Given(settings_cls, {}, {})
