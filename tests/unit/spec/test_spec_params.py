"""Param resolution without a database: defaults < schedule vars < --var, typed, bounded, located by origin."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.spec.model import AudienceSpec, Param
from engine.spec.params import ParamError, parse_var_flags, resolve_params


def _spec(*params: Param) -> AudienceSpec:
    return AudienceSpec(
        name="toy",
        description="",
        layer=3,
        path=Path("audiences/toy.yaml"),
        display_path="audiences/toy.yaml",
        params=params,
        queries=(),
        base="q",
        joins=(),
        outputs=(),
    )


SPEC = _spec(
    Param("hours", "integer", default=36, minimum=1, maximum=720),
    Param("ratio", "number", default=0.5),
    Param("on", "boolean", default=False),
    Param("product", "uuid", required=True),
    Param("kind", "string", default="a", enum=("a", "b")),
    Param("since", "timestamp", default="2026-11-20T12:00:00Z"),
)
PRODUCT = "7D0C5A8E-5F4E-4B8E-9D55-2F3C1E9A0B11"


def test_layers_override_in_order_and_values_are_typed() -> None:
    got = resolve_params(
        SPEC,
        ("schedules.yaml vars", {"hours": 48, "product": PRODUCT}),
        ("--var", {"hours": "72", "on": "yes", "ratio": "2"}),
    )
    assert got == {
        "hours": 72,
        "ratio": 2.0,
        "on": True,
        "product": PRODUCT.lower(),
        "kind": "a",
        "since": datetime(2026, 11, 20, 12, tzinfo=timezone.utc),
    }


@pytest.mark.parametrize(
    ("var", "message"),
    [
        ({"hours": "0"}, "'hours' from --var: 0 is below the minimum 1"),
        ({"hours": "721"}, "is above the maximum 720"),
        ({"hours": "1.5"}, "'1.5' is not a valid integer"),
        ({"hours": True}, "True is not a valid integer"),  # a YAML boolean is not a count
        ({"on": "maybe"}, "is not a valid boolean"),
        ({"product": "not-a-uuid"}, "is not a valid uuid"),
        ({"kind": "c"}, "'c' is not one of ['a', 'b']"),
        ({"kind": "a\x00"}, "'kind' from --var: a NUL character"),  # issue 22: it reached PostgreSQL, a traceback
        ({"nope": "1"}, "audience 'toy' has no param 'nope'"),
    ],
)
def test_bad_values_name_the_param_and_origin(var: dict, message: str) -> None:
    with pytest.raises(ParamError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        resolve_params(SPEC, ("--var", {"product": PRODUCT}), ("--var", var))


def test_missing_required_param_and_lenient_unknowns() -> None:
    with pytest.raises(ParamError, match="needs param\\(s\\) product"):
        resolve_params(SPEC)
    # several audiences share one --var set: unknown names are ignored when not strict
    assert resolve_params(SPEC, ("--var", {"product": PRODUCT, "other": "1"}), strict=False)["hours"] == 36
    assert ParamError("x").exit_code == 2  # a bad value is a usage error


def test_var_flags() -> None:
    assert parse_var_flags(["a=1", " b =x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ParamError, match="not of the form name=value"):
        parse_var_flags(["novalue"])
