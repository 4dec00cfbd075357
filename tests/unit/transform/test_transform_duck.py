"""The DuckDB stage alone (in-memory, no PostgreSQL): join, prioritise, require, thresholds, outputs.

Expected rows are worked out by hand from the small tables below.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from engine.spec.model import AudienceSpec, Join, OrderRule, OutputColumn, OutputSpec, Requirement, Threshold
from engine.transform.duck import TransformError, Workspace
from engine.transform.sandbox import SandboxError

USERS = pa.table({"user_id": ["u1", "u2", "u3", "u4"], "first_name": ["Ann", " ", None, "Dee"]})
ITEMS = pa.table(
    {
        "user_id": ["u1", "u1", "u2", "u3", "u4", "u4"],
        "item": ["a", "b", "c", "d", "e", "f"],
        "wishes": [5, 9, 3, 7, 1, 2],
    }
)
OUT = OutputSpec(
    name="o",
    file="o_{timestamp}.csv",
    columns=(
        OutputColumn("userId", column="user_id"),
        OutputColumn("item", column="item"),
        OutputColumn("source", value="test"),
    ),
    order_by=(OrderRule("wishes", "desc"),),
    segment="hot",
)


def _spec(**changes: object) -> AudienceSpec:
    base = dict(
        name="toy",
        description="",
        layer=3,
        path=Path("toy.yaml"),
        display_path="toy.yaml",
        params=(),
        queries=(),
        base="users",
        joins=(Join("items", ("user_id",), "inner"),),
        outputs=(OUT,),
        prioritise_key=("user_id",),
        prioritise_order=(OrderRule("wishes", "desc"),),
        require=(Requirement("first_name", "reject"),),
        segments={"hot": "wishes >= 5"},
        thresholds=(Threshold("wishes", "hot", min=6),),
        metrics={"users": "select count(*) from audience"},
    )
    base.update(changes)
    return AudienceSpec(**base)  # type: ignore[arg-type]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(allowed_dir=tmp_path)  # the DuckDB sandbox writes only inside the run folder
    workspace.load("users", USERS, ())
    workspace.load("items", ITEMS, ())
    yield workspace
    workspace.close()


def test_steps_count_and_explain_the_funnel(ws: Workspace) -> None:
    spec = _spec()
    ws.build_audience(spec)
    steps = {s.step: s for s in ws.steps}
    assert steps["load:items"].rows == 6
    assert steps["join"].rows == 6  # every item has its user
    assert steps["prioritise"].rows == 4  # one row per user: the most wished item (b, c, d, f)
    # u2's first name is blank, u3's missing: both leave at require, attributed to the one requirement
    assert steps["require"].rows == 2 and steps["require"].removed == {"missing first_name (or blank)": 2}
    # left: u1 (b, 9 wishes, hot) and u4 (f, 2 wishes, not hot: the hot-only threshold does not apply)
    assert steps["thresholds"].rows == 2 and steps["thresholds"].removed == {"hot: wishes >= 6": 0}
    assert ws.segment_counts(spec) == {"hot": 1}
    assert ws.metrics(spec) == {"users": 2}


def test_output_rows_csv_and_samples(ws: Workspace, tmp_path: Path) -> None:
    spec = _spec()
    ws.build_audience(spec)
    query = ws.output_query(spec, OUT)
    assert ws.count_rows(query, OUT) == 1  # segment hot: only u1
    assert ws.sample_rows(query, OUT, limit=5) == [("u1", "b", "test")]
    ws.copy_csv(query, OUT, str(tmp_path / "o.csv"))
    assert (tmp_path / "o.csv").read_bytes() == b"userId,item,source\r\nu1,b,test\r\n"


def test_a_bad_expression_is_a_transform_error(ws: Workspace) -> None:
    with pytest.raises(TransformError, match="step join failed"):
        ws.build_audience(_spec(joins=(Join("items", ("no_such_column",), "inner"),)))
    spec = _spec(metrics={"bad": "select nope from audience"})
    ws.build_audience(spec)
    with pytest.raises(TransformError, match="metric 'bad' failed"):
        ws.metrics(spec)


def _tables(ws: Workspace) -> dict[str, str]:
    rows = ws.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    return {name: kind for name, kind in rows}


def test_filters_are_views_until_finish_stores_the_audience_once(ws: Workspace) -> None:
    ws.build_audience(_spec())
    # join and the filters after prioritise are views; prioritise (a window) is stored
    assert {n: k for n, k in _tables(ws).items() if n.startswith("step_")} == {
        "step_3_prioritise": "BASE TABLE",
        "step_4_require": "VIEW",
        "step_5_thresholds": "VIEW",
    }
    ws.finish()
    # one stored audience, nothing of the steps before it; the same two users (u1 and u4, as above)
    assert {n: k for n, k in _tables(ws).items() if n.startswith("step_")} == {"step_6_audience": "BASE TABLE"}
    assert sorted(ws.con.execute("SELECT user_id, item FROM audience").fetchall()) == [("u1", "b"), ("u4", "f")]


def test_a_transform_is_stored_so_its_count_is_the_rows_written(ws: Workspace, tmp_path: Path) -> None:
    spec = _spec(segments={}, thresholds=(), outputs=(), metrics={})
    ws.build_audience(spec)
    # a sample that differs at every evaluation: as a view, its count and its rows would disagree
    ws.transform("SELECT * FROM audience WHERE random() < 0.5")
    ws.finish()
    counted = ws.steps[-1].rows
    assert [ws.con.execute("SELECT count(*) FROM audience").fetchall()[0][0] for _ in range(20)] == [counted] * 20


@pytest.mark.parametrize(
    "sql",
    [
        "create or replace view audience as select 'x' as user_id",
        "with gone as (select 1) delete from users",
        "drop view audience",
    ],
)
def test_a_metric_or_transform_that_writes_is_refused_before_anything_runs(ws: Workspace, sql: str) -> None:
    with pytest.raises(SandboxError, match="must be one query"):
        ws.build_audience(_spec(metrics={"sneaky": sql}))
    assert ws.steps[-1].step == "load:items"  # refused up front: not even the join ran
    ws.build_audience(_spec())
    with pytest.raises(SandboxError, match="must be one query"):
        ws.transform(sql)
    assert ws.con.execute("SELECT count(*) FROM users").fetchall() == [(4,)]  # nothing was changed
