"""Bound values as the server sees them: typed reads for scalars, typed constants for arrays (no database)."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timezone

import pytest

from engine.sources.binding import array_constant, bind_statement, server_bound, sql_type

U1, U2 = "0b7e1a52-6f3c-4d0e-9a1b-2c3d4e5f6a7b", "ffffffff-0000-4000-8000-000000000001"


def test_uuid_array_is_one_typed_constant_per_placeholder_use() -> None:
    bound = server_bound("select %(ids)s, %(ids)s, %(ids)s", {"ids": [U1, U2]})
    constant = f"E'{{{U1},{U2}}}'::uuid[]"
    # three uses, three identical constants (typed once: the same text each time)
    assert bound.sql == f"select {constant}, {constant}, {constant}"
    assert bound.settings == ()


def test_empty_arrays_keep_the_type_not_the_elements() -> None:
    bound = server_bound("select %(ids)s", {"ids": [U1, U2]}, empty_arrays=True)
    assert bound.sql == "select E'{}'::uuid[]"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([U1, U2], "uuid[]"),
        ([U1.upper()], "uuid[]"),
        ([1, 2, 3], "int8[]"),
        ([True, False], "text[]"),  # booleans are not integers here
        ([U1, "not-a-uuid"], "text[]"),
        ([U1[:35] + ","], "text[]"),  # 36 characters, a comma where a hex digit belongs
        ([U1 + "," + U2], "text[]"),  # two uuids in one element are not a uuid
        ([U1, uuid.UUID(U2)], "text[]"),  # only strings are checked as uuid text
        ([], "text[]"),
    ],
)
def test_array_types(values: list[object], expected: str) -> None:
    assert sql_type(values) == expected


def test_text_array_elements_are_escaped_inside_the_literal() -> None:
    # element a'b\"c: the array quotes it ("a'b\\\"c"), then the E'' literal doubles ' and \
    assert array_constant(["a'b\\\"c"]) == "E'{\"a''b\\\\\\\\\\\\\"c\"}'"
    assert array_constant([None, "x"]) == "E'{NULL,\"x\"}'"


def test_scalars_are_settings_read_back_once_per_statement() -> None:
    as_of = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
    bound = server_bound("select %(as_of)s, %(n)s, %(as_of)s", {"as_of": as_of, "n": 7})
    read = "(SELECT current_setting('engine.p_as_of')::timestamptz)"
    assert bound.sql == f"select {read}, (SELECT current_setting('engine.p_n')::int4), {read}"
    assert bound.settings == (("engine.p_as_of", "2026-11-23T12:30:00+00:00"), ("engine.p_n", "7"))
    statement, args = bind_statement(bound)
    assert statement == "SELECT set_config(%s, %s, true), set_config(%s, %s, true)"
    assert args == ["engine.p_as_of", "2026-11-23T12:30:00+00:00", "engine.p_n", "7"]


def test_error_offsets_map_back_through_replaced_placeholders() -> None:
    rendered = "select %(ids)s, bogus"
    bound = server_bound(rendered, {"ids": [U1]})
    assert bound.rendered_offset(bound.sql.index("bogus")) == rendered.index("bogus")


def test_uuid_check_agrees_with_a_per_element_regex_on_mutated_arrays() -> None:
    """The joined-text check against the obvious one (each element fully matches the uuid pattern),
    on arrays where one element is mutated: a character replaced, inserted or removed, or two merged."""
    pattern = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
    rng = random.Random(7)
    alphabet = "0123456789abcdefABCDEF-,g{}\"' "
    for _ in range(3000):
        values: list[object] = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(rng.randint(1, 4))]
        i = rng.randrange(len(values))
        text = str(values[i])
        kind = rng.randrange(5)
        pos = rng.randrange(len(text))
        if kind == 0:
            values[i] = text[:pos] + rng.choice(alphabet) + text[pos + 1 :]
        elif kind == 1:
            values[i] = text[:pos] + rng.choice(alphabet) + text[pos:]
        elif kind == 2:
            values[i] = text[:pos] + text[pos + 1 :]
        elif kind == 3 and len(values) > 1:
            j = (i + 1) % len(values)
            values[i], values[j] = text[:pos] + "," + str(values[j])[pos + 1 :], text[pos + 1 :]
        expected = all(isinstance(v, str) and pattern.fullmatch(v) for v in values)
        assert (sql_type(values) == "uuid[]") == expected, values
