"""DuckDB writes the CSVs; they must be byte-identical to what the original's csv module wrote.

The oracle is Python's csv.writer (RFC 4180 minimal quoting, CRLF): the original scripts'
DictWriter, independent of DuckDB.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from engine.outputs.csvfile import encode_csv
from engine.spec.model import AudienceSpec, OrderRule, OutputColumn, OutputSpec
from engine.transform.duck import Workspace

HOSTILE = [
    "plain",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rreturn",
    "crlf\r\nend",
    "#hash",
    " lead",
    "trail ",
    "tab\there",
    "back\\slash",
    "O'Brien",
    "Zoë",
    "👟 Dunk",
    "",
    None,
    '""',
    ",",
    "\n",
    ";semi",
    "'",
]


def _spec(output: OutputSpec) -> AudienceSpec:
    return AudienceSpec(
        name="parity",
        description="d",
        layer=2,
        path=Path("x"),
        display_path="x",
        params=(),
        queries=(),
        base="base",
        joins=(),
        outputs=(output,),
    )


def test_duckdb_csv_matches_python_csv_module(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    rows = [(i, rng.choice(HOSTILE), "".join(rng.choice(HOSTILE) or "" for _ in range(3))) for i in range(500)]
    table = pa.table({"n": [r[0] for r in rows], "a": [r[1] for r in rows], "b": [r[2] for r in rows]})
    output = OutputSpec(
        name="out",
        file="x_{timestamp}.csv",
        order_by=(OrderRule("n"),),
        columns=(OutputColumn("id", column="n"), OutputColumn("first,Name", column="a"), OutputColumn("b", column="b")),
    )
    spec = _spec(output)
    ws = Workspace(allowed_dir=tmp_path)  # the DuckDB sandbox writes only inside the run folder
    try:
        ws.load("base", table, ())
        ws.build_audience(spec)
        path = tmp_path / "out.csv"
        ws.copy_csv(ws.output_query(spec, output), output, str(path))
    finally:
        ws.close()
    expected = encode_csv(["id", "first,Name", "b"], [(str(n), "" if a is None else a, b) for n, a, b in rows])
    assert path.read_bytes() == expected


def test_empty_output_is_header_only(tmp_path: Path) -> None:
    table = pa.table({"n": pa.array([], pa.int64())})
    output = OutputSpec(
        name="out", file="x_{timestamp}.csv", order_by=(OrderRule("n"),), columns=(OutputColumn("user_id", column="n"),)
    )
    spec = _spec(output)
    ws = Workspace(allowed_dir=tmp_path)  # the DuckDB sandbox writes only inside the run folder
    try:
        ws.load("base", table, ())
        ws.build_audience(spec)
        ws.copy_csv(ws.output_query(spec, output), output, str(tmp_path / "e.csv"))
    finally:
        ws.close()
    assert (tmp_path / "e.csv").read_bytes() == b"user_id\r\n"
