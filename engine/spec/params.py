"""Resolve an audience's params: declared defaults < schedule vars < CLI --var, typed and bounded."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from engine.errors import SpecError
from engine.spec.model import INT4, AudienceSpec, Param, UuidText
from engine.timeutil import parse_as_of


class ParamError(SpecError):
    """A param value (default, schedule var or --var) is missing, unknown or invalid."""

    exit_code = 2


def _coerce(param: Param, raw: Any, origin: str) -> Any:
    try:
        if param.type == "integer":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value: Any = int(str(raw).strip()) if isinstance(raw, str) else int(raw)
            if not INT4[0] <= value <= INT4[1]:
                raise ParamError(
                    f"param {param.name!r} from {origin}: {value} is outside the integer range {INT4[0]}..{INT4[1]}"
                )
        elif param.type == "number":
            value = float(raw)
            if not math.isfinite(value):
                raise ParamError(f"param {param.name!r} from {origin}: {raw!r} is not a finite number")
        elif param.type == "boolean":
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in {"true", "1", "yes"}:
                value = True
            elif str(raw).lower() in {"false", "0", "no"}:
                value = False
            else:
                raise ValueError
        elif param.type == "uuid":
            value = UuidText(uuid.UUID(str(raw)))
        elif param.type == "timestamp":
            value = raw if isinstance(raw, datetime) else parse_as_of(str(raw))
        else:
            value = str(raw)
            if "\0" in value:  # PostgreSQL text, file names and pushes cannot carry it
                raise ParamError(f"param {param.name!r} from {origin}: a NUL character cannot be part of a value")
    except ParamError:
        raise
    except (TypeError, ValueError, OverflowError, SpecError):
        raise ParamError(f"param {param.name!r} from {origin}: {raw!r} is not a valid {param.type}") from None
    if param.minimum is not None and value < param.minimum:
        raise ParamError(f"param {param.name!r} from {origin}: {value} is below the minimum {param.minimum:g}")
    if param.maximum is not None and value > param.maximum:
        raise ParamError(f"param {param.name!r} from {origin}: {value} is above the maximum {param.maximum:g}")
    if param.enum is not None and value not in param.enum:
        raise ParamError(f"param {param.name!r} from {origin}: {value!r} is not one of {list(param.enum)}")
    return value


def bind_numbers(spec: AudienceSpec, values: Mapping[str, Any]) -> AudienceSpec:
    """The spec with every number that names a param (threshold min/max) replaced by that param's value."""
    if not any(t.min_param or t.max_param for t in spec.thresholds):
        return spec
    thresholds = tuple(
        replace(t, min=values[t.min_param] if t.min_param else t.min, max=values[t.max_param] if t.max_param else t.max)
        for t in spec.thresholds
    )
    return replace(spec, thresholds=thresholds)


def parse_var_flags(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--var k=v`` flags to a dict (values stay strings; typing happens per audience)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"--var {pair!r} is not of the form name=value")
        out[key.strip()] = value
    return out


def resolve_params(spec: AudienceSpec, *layers: tuple[str, Mapping[str, Any]], strict: bool = True) -> dict[str, Any]:
    """Merge override layers (origin, values) over defaults; unknown names are errors when ``strict``."""
    values: dict[str, Any] = {}
    for param in spec.params:
        if param.default is not None:
            values[param.name] = _coerce(param, param.default, f"{spec.display_path} default")
    for origin, overrides in layers:
        for name, raw in overrides.items():
            found = spec.param(name)
            if found is None:
                if strict:
                    known = ", ".join(p.name for p in spec.params) or "none"
                    raise ParamError(
                        f"{origin}: audience {spec.name!r} has no param {name!r}", hint=f"its params: {known}"
                    )
                continue
            values[name] = _coerce(found, raw, origin)
    missing = [p.name for p in spec.params if p.name not in values]
    if missing:
        raise ParamError(
            f"audience {spec.name!r} needs param(s) {', '.join(missing)}", hint="pass them with --var name=value"
        )
    return values
