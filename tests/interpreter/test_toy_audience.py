"""The interpreter on a tiny toy project, independent of the four real audiences."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import psycopg
import pytest

from engine import api
from engine.config import resolve
from engine.errors import RenderError, SpecError
from engine.render.env import make_environment, render_sql
from engine.spec.loader import load_audience
from tests.fixtures.appdata import AppData, ts

AS_OF = ts("2026-11-20T12:00:00+00:00")

TOY_YAML = """\
name: toy
description: Products and how many live users wishlisted them.
layer: 2
params:
  min_wishes: {type: integer, default: 1, minimum: 0}
  label: {type: string, default: "hot"}
queries:
  - name: products
    sql: toy/products.sql
  - name: wishes
    sql: toy/wishes.sql
    bind:
      product_ids: {query: products, column: product_id}
audience:
  from: products
  join:
    - {query: wishes, using: [product_id], how: left}
segments:
  popular: wish_count >= 2
thresholds:
  - {column: wish_count, min: 1}
outputs:
  - name: all_products
    file: "toy-all_{timestamp}.csv"
    order_by: [{column: product_name}]
    columns:
      product_id: product_id
      name: product_name
      wishes: wish_count
      label: label
  - name: popular
    segment: popular
    file: "toy-popular_{timestamp}.csv"
    order_by: [{column: wish_count, direction: desc}, {column: product_name}]
    columns:
      product_id: product_id
      name: product_name
"""

PRODUCTS_SQL = """\
select
    p.id as product_id,
    p.name as product_name,
    {{ label }}::text as label
from products as p
where p.deleted_at = 0
"""

WISHES_SQL = """\
select
    pv.product_id,
    count(*) as wish_count
from wishlist_items as wi
inner join product_variants as pv on wi.product_variant_id = pv.id
where
    pv.product_id = any({{ product_ids }}::uuid[])
    and wi.deleted_at = 0
    and wi.created_at <= {{ as_of }}
group by pv.product_id
having count(*) >= {{ min_wishes }}
"""


def make_project(root: Path, yaml_text: str = TOY_YAML, files: dict[str, str] | None = None) -> Path:
    (root / "audiences").mkdir(parents=True)
    (root / "sql" / "toy").mkdir(parents=True)
    (root / "audiences" / "toy.yaml").write_text(yaml_text)
    sources = {"toy/products.sql": PRODUCTS_SQL, "toy/wishes.sql": WISHES_SQL, **(files or {})}
    for rel, text in sources.items():
        (root / "sql" / rel).write_text(text)
    return root


@pytest.fixture
def toy_db(app_db: str) -> dict[str, str]:
    d = AppData(app_db)
    ids = {"dsn": app_db}
    # three products: "A, the one" (2 live wishes), "B" (1 live + 1 deleted), "C" (none) -> C fails min 1
    ids["a"] = a = d.product('A, the "one"')
    ids["b"] = b = d.product("B")
    d.product("C")
    va, vb = d.variant(a), d.variant(b)
    u1, u2 = d.user("U1"), d.user("U2")
    old = ts("2026-11-01T00:00:00+00:00")
    d.wishlist(u1, va, created_at=old)
    d.wishlist(u2, va, created_at=old)
    d.wishlist(u1, vb, created_at=old)
    d.wishlist(u2, vb, created_at=old, deleted_at=1)
    d.close()
    return ids


def run_toy(project: Path, dsn: str, out: Path, **variables):
    settings = resolve({"source_dsn": dsn, "output_dir": out, "project_dir": project}, env={})
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF, variables=variables, record=False)
    return result


def rows_of(result, name: str) -> list[list[str]]:
    entry = next(o for o in result.manifest.outputs if o.name == name and not o.is_test)
    return list(csv.reader(io.StringIO((result.run_dir / entry.file).read_text(encoding="utf-8"), newline="")))


def test_toy_outputs_and_funnel(tmp_path: Path, toy_db: dict[str, str]) -> None:
    project = make_project(tmp_path / "p")
    result = run_toy(project, toy_db["dsn"], tmp_path / "out")
    assert result.status == "succeeded", result.manifest.errors
    # C has no wishes -> wish_count NULL after the left join -> counts as 0 -> removed by min 1
    assert rows_of(result, "all_products") == [
        ["product_id", "name", "wishes", "label"],
        [toy_db["a"], 'A, the "one"', "2", "hot"],
        [toy_db["b"], "B", "1", "hot"],
    ]
    assert rows_of(result, "popular") == [["product_id", "name"], [toy_db["a"], 'A, the "one"']]
    steps = {s.step: s for s in result.manifest.steps}
    assert steps["load:products"].rows == 3 and steps["thresholds"].rows == 2
    assert steps["thresholds"].removed == {"all: wish_count >= 1": 1}
    assert result.manifest.segments == {"popular": 1}
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["params"] == {"min_wishes": 1, "label": "hot"}
    # nothing temporary is left behind; the run report sits next to the manifest
    assert sorted(p.name for p in result.run_dir.iterdir()) == sorted(
        ["manifest.json", "report.html", "toy-all_20261120_120000.csv", "toy-popular_20261120_120000.csv"]
    )


def test_var_overrides_are_typed_and_bound(tmp_path: Path, toy_db: dict[str, str]) -> None:
    project = make_project(tmp_path / "p")
    # a hostile string param is a bound value, never SQL: it comes back verbatim
    hostile = "x'); drop table users; --"
    result = run_toy(project, toy_db["dsn"], tmp_path / "out", min_wishes="2", label=hostile)
    assert rows_of(result, "all_products")[1:] == [[toy_db["a"], 'A, the "one"', "2", hostile]]
    with psycopg.connect(toy_db["dsn"]) as conn:
        assert conn.execute("select count(*) from users").fetchone()[0] == 2
    with pytest.raises(SpecError, match="not a valid integer"):
        run_toy(project, toy_db["dsn"], tmp_path / "out2", min_wishes="two")
    with pytest.raises(SpecError, match="below the minimum"):
        run_toy(project, toy_db["dsn"], tmp_path / "out3", min_wishes=-1)
    with pytest.raises(SpecError, match="has no param 'min_wish'"):
        run_toy(project, toy_db["dsn"], tmp_path / "out4", min_wish=3)


def test_partial_failure_writes_the_other_outputs(tmp_path: Path, toy_db: dict[str, str]) -> None:
    """An output naming a missing column fails alone; the other output is still written."""
    head, _, tail = TOY_YAML.rpartition("      name: product_name\n")  # the popular output's column
    broken = head + "      name: product_nme\n" + tail
    project = make_project(tmp_path / "p", broken)
    result = run_toy(project, toy_db["dsn"], tmp_path / "out")
    assert result.status == "partial"
    by_name = {o.name: o for o in result.manifest.outputs}
    assert by_name["all_products"].status == "written"
    assert by_name["popular"].status == "failed" and "product_nme" in by_name["popular"].error
    assert not (result.run_dir / "toy-popular_20261120_120000.csv").exists()
    assert (result.run_dir / "toy-all_20261120_120000.csv").exists()


def test_failing_query_fails_the_run_with_sqlstate_and_file(tmp_path: Path, toy_db: dict[str, str]) -> None:
    project = make_project(tmp_path / "p", files={"toy/wishes.sql": WISHES_SQL.replace("wi.deleted_at", "wi.gone")})
    result = run_toy(project, toy_db["dsn"], tmp_path / "out")
    assert result.status == "failed"
    [error] = result.manifest.errors
    assert "42703" in error and "sql/toy/wishes.sql" in error and "wi.gone" in error
    assert list(result.run_dir.glob("*.csv")) == []
    assert json.loads((result.run_dir / "manifest.json").read_text())["status"] == "failed"


def test_source_is_read_only_even_for_a_writing_audience(tmp_path: Path, toy_db: dict[str, str]) -> None:
    # FOR UPDATE and the refused functions never reach the server (engine.pgquery); a function the app
    # database itself defines is beyond a parse tree's sight: the read-only transaction is the wall behind it
    with psycopg.connect(toy_db["dsn"]) as conn:
        conn.execute(
            "create function rename_all() returns text language sql "
            "as $$ update products set name = 'pwned' returning 'x' $$"
        )
    writer = "select p.id as product_id, p.name as product_name, rename_all() as label from products as p"
    project = make_project(tmp_path / "p", files={"toy/products.sql": writer})
    result = run_toy(project, toy_db["dsn"], tmp_path / "out")
    assert result.status == "failed"
    assert "25006" in result.manifest.errors[0] and "read-only" in result.manifest.errors[0]
    with psycopg.connect(toy_db["dsn"]) as conn:
        assert conn.execute("select count(*) from products where name <> 'pwned'").fetchone()[0] == 3
    with psycopg.connect(toy_db["dsn"], options="-c default_transaction_read_only=on") as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("delete from products")


def test_dry_run_writes_nothing(tmp_path: Path, toy_db: dict[str, str]) -> None:
    project = make_project(tmp_path / "p")
    settings = resolve({"source_dsn": toy_db["dsn"], "output_dir": tmp_path / "out", "project_dir": project}, env={})
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF, dry_run=True, preview_rows=1)
    assert result.run_dir is None and not (tmp_path / "out").exists()
    assert result.previews["all_products"] == (
        ["product_id", "name", "wishes", "label"],
        [(toy_db["a"], 'A, the "one"', "2", "hot")],
    )


def test_undefined_template_variable_names_file_and_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", files={"toy/bad.sql": "select 1\nwhere x = {{ min_wishez }}\n"})
    env = make_environment(project / "sql")
    with pytest.raises(RenderError) as info:
        render_sql(env, project / "sql", name="bad", template="toy/bad.sql", values={"min_wishes": 1})
    assert str(info.value.location) == "sql/toy/bad.sql:2"
    assert "min_wishez" in info.value.message


def test_jinja_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", files={"toy/bad.sql": "select 1\n{% if options.x %}\nfrom t\n"})
    env = make_environment(project / "sql")
    with pytest.raises(RenderError) as info:
        render_sql(env, project / "sql", name="bad", template="toy/bad.sql", values={})
    # the unclosed {% if %} is detected at the end of the template: its last line, 3
    assert info.value.location.file == "sql/toy/bad.sql" and info.value.location.line == 3
    assert "endif" in info.value.message


def test_values_never_steer_jinja(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", files={"toy/bad.sql": "select 1\n{% if min_wishes %}where true{% endif %}\n"}
    )
    env = make_environment(project / "sql")
    with pytest.raises(RenderError, match="Jinja condition"):
        render_sql(env, project / "sql", name="bad", template="toy/bad.sql", values={"min_wishes": 1})


def test_bad_yaml_and_unknown_keys_are_located(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", TOY_YAML.replace("layer: 2", "layr: 2"))
    with pytest.raises(SpecError) as info:
        load_audience(project / "audiences" / "toy.yaml", project)
    err = info.value
    assert str(err.location).startswith("audiences/toy.yaml:3:1")
    assert "unknown key 'layr'" in err.message and "did you mean 'layer'" in (err.hint or "")
    (project / "audiences" / "toy.yaml").write_text(
        textwrap.dedent("""\
        name: toy
        description: [unclosed
        """)
    )
    with pytest.raises(SpecError) as info:
        load_audience(project / "audiences" / "toy.yaml", project)
    assert info.value.location.file == "audiences/toy.yaml" and info.value.location.line == 3


def test_run_is_recorded_in_state(tmp_path: Path, toy_db: dict[str, str]) -> None:
    project = make_project(tmp_path / "p")
    settings = resolve(
        {
            "source_dsn": toy_db["dsn"],
            "state_dsn": toy_db["dsn"],
            "output_dir": tmp_path / "out",
            "project_dir": project,
        },
        env={},
    )
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF)
    with psycopg.connect(toy_db["dsn"]) as conn:
        run = conn.execute(
            "select audience, status, as_of, manifest->>'status' from engine.runs where id = %s", (result.run_id,)
        ).fetchone()
        outputs = conn.execute(
            "select file_name, row_count, sha256 from engine.run_outputs where run_id = %s order by file_name",
            (result.run_id,),
        ).fetchall()
    assert run == ("toy", "succeeded", AS_OF, "succeeded")
    expected = sorted((o.file, o.rows, o.sha256) for o in result.manifest.outputs)
    assert outputs == expected and [o[1] for o in outputs] == [2, 1]
