"""Resolve ``Settings`` from flags, environment variables and the profile file, checked before any work.

The pydantic-settings model is built from ``Settings``' declarations (types, defaults, bounds,
variables), so nothing is declared twice. Its sources are merged in the documented order
(``settings_customise_sources``), every value is checked at once, and the first failure becomes a
ConfigError (exit 2) naming the flag, the variable, or the engine.yaml key at file:line:col.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, get_type_hints

from pydantic import ValidationError, create_model
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.config import sources
from engine.config.project import project_root
from engine.config.settings import Settings
from engine.config.sources import Given, ProfileFile
from engine.config.values import Var
from engine.errors import ConfigError


class _Checked(BaseSettings):
    """How every value is checked: nothing unknown, no NaN or infinity, numbers in a text list are text."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)


def _readable() -> dict[str, tuple[Any, Var, Any]]:
    """The settings a flag, a variable or the file may set: name -> (type, ``Var``, default)."""
    hints = get_type_hints(Settings, include_extras=True)
    out = {}
    for f in dataclasses.fields(Settings):
        var = next((m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Var)), None)
        if var is not None:
            out[f.name] = (hints[f.name], var, f.default)
    return out


_READABLE = _readable()
# setting name -> environment variable
ENV_VARS: dict[str, str] = {name: var.name for name, (_, var, _) in _READABLE.items() if var.name}
_SECRET = {name for name, (_, var, _) in _READABLE.items() if var.secret}
_FIELDS: dict[str, Any] = {name: (hint, default) for name, (hint, _, default) in _READABLE.items()}
_MODEL: type[BaseSettings] = create_model("SettingsModel", __base__=_Checked, **_FIELDS)


def _validated(chain: tuple[Given, ...]) -> BaseSettings:
    """The model over ``chain``, highest precedence first."""

    def customise(cls: type[BaseSettings], *args: Any, **kwargs: Any) -> tuple[PydanticBaseSettingsSource, ...]:
        return chain

    model = type("Resolved", (_MODEL,), {"settings_customise_sources": classmethod(customise)})
    try:
        return model()
    except ValidationError as err:
        raise _config_error(err.errors(include_url=False), chain) from None


def _range(name: str) -> tuple[float, float] | None:
    metadata = _MODEL.model_fields[name].metadata
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    return (low, high) if low is not None and high is not None else None


def _problem(error: ErrorDetails, name: str) -> tuple[str, str]:
    """What is wrong with the value (never the value of a secret), and what would be accepted."""
    bounds = _range(name) if name in _READABLE else None
    accepted = f"a number in {bounds[0]:g}..{bounds[1]:g}" if bounds else "a valid value"
    shown = "" if name in _SECRET else f"{error['input']!r}: "
    if bounds and error["type"] in {"greater_than_equal", "less_than_equal"}:
        value = "the value" if name in _SECRET else repr(error["input"])
        return f"{value} is outside {bounds[0]:g}..{bounds[1]:g}", accepted
    message = error["msg"].removeprefix("Value error, ")
    return f"{shown}{message[:1].lower()}{message[1:]}", accepted


def _config_error(errors: list[ErrorDetails], chain: tuple[Given, ...]) -> ConfigError:
    error = errors[0]
    name, rest = str(error["loc"][0]), tuple(error["loc"][1:])
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    source = next((s for s in chain if name in s.values), None)
    if error["type"] == "extra_forbidden" or source is None:
        return ConfigError(f"unknown setting {name!r}{more}", hint=f"known settings: {', '.join(sorted(_READABLE))}")
    problem, accepted = _problem(error, name)
    var = ENV_VARS.get(name)
    location = source.locate(name, rest)
    if location is not None:
        where = f"{name} in {source.origin(name)}" + (f" (or {var})" if var else "")
        return ConfigError(
            f"invalid value for {name}: {problem}{more}", location=location, hint=f"set {where} to {accepted}"
        )
    named = f"{name} ({var})" if var else name
    return ConfigError(
        f"invalid value for {named} from {source.origin(name)}: {problem}{more}",
        hint=f"set {source.origin(name)} to {accepted}",
    )


def _cross_checked(settings: Settings) -> Settings:
    """Rules between settings, checked at start like the rest."""
    if settings.cadence_mode == "remote" and not settings.cadence_url:
        raise ConfigError(
            "cadence_mode is 'remote' but no cadence_url is set",
            hint="set ENGINE_CADENCE_URL to the service root, e.g. http://localhost:3002",
        )
    return settings


def resolve(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    project_dir: Path | None = None,
    profile: str | None = None,
) -> Settings:
    """Resolve settings: flags > env > profile file > defaults. ``None`` flags are ignored."""
    env = os.environ if env is None else env
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    root = project_root(given.pop("project_dir", None) or project_dir, env=env)
    config_path = Path(env["ENGINE_CONFIG"]) if env.get("ENGINE_CONFIG") else root / "engine.yaml"
    if config_path.exists():
        file: Given = ProfileFile(_MODEL, config_path, profile or env.get("ENGINE_PROFILE"), set(_READABLE))
    elif env.get("ENGINE_CONFIG"):
        raise ConfigError(f"config file not found: {config_path}", hint="check ENGINE_CONFIG")
    else:
        file = sources.no_file(_MODEL)
    model = _validated((sources.flags(_MODEL, given), sources.environment(_MODEL, env, ENV_VARS), file))
    settings = Settings(project_dir=root.resolve(), **dict(model))
    if settings.output_dir is not None and not settings.output_dir.is_absolute():
        settings = dataclasses.replace(settings, output_dir=(root / settings.output_dir).resolve())
    return _cross_checked(settings)
