"""`engine test` from the outside on the toy project: pass, fail with a located diff, bad files, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.interpreter.test_toy_audience import make_project

# Toy audience (tests/interpreter): products with their live wish count, kept from min_wishes (default 1).
CASES = """\
cases:
  - name: wishes are counted per product
    as_of: "2026-11-20T12:00:00Z"
    fixtures:
      products: [{id: a, name: Alpha}, {id: b, name: Beta}, {id: c, name: Gamma}]
      product_variants: [{id: va, product_id: a}, {id: vb, product_id: b}]
      wishlist_items:
        - {user_id: u1, product_variant_id: va, created_at: as_of - 1d}
        - {user_id: u2, product_variant_id: va, created_at: as_of - 2d}
        - {user_id: u1, product_variant_id: vb, created_at: as_of - 1d}
        - {user_id: u2, product_variant_id: vb, deleted_at: 1}          # deleted: not counted
        - {user_id: u3, product_variant_id: va, created_at: as_of + 1h}  # after as_of: not counted
    expect:
      # Alpha 2 wishes, Beta 1; Gamma none -> wish_count 0 < min_wishes 1 -> dropped; ordered by name
      all_products: [{product_id: a, name: Alpha, wishes: 2}, {product_id: b, name: Beta, wishes: 1}]
      popular: [{name: Alpha}]                                            # wish_count >= 2
  - name: a wrong expectation
    as_of: "2026-11-20T12:00:00Z"
    params: {min_wishes: 2}
    fixtures:
      products: [{id: a, name: Alpha}]
      product_variants: [{id: va, product_id: a}]
      wishlist_items: [{user_id: u1, product_variant_id: va, created_at: as_of - 1d}]
    expect:
      all_products: [{name: Alpha, wishes: 1}]        # wrong on purpose: 1 wish < min_wishes 2
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "project")
    (root / "audiences" / "toy.tests.yaml").write_text(CASES)
    return root


def invoke(project: Path, *args: str, server: str):
    return CliRunner().invoke(
        cli, ["--project-dir", str(project), *args], env={"ENGINE_TEST_DSN": server}, catch_exceptions=False
    )


def test_pass_and_fail_with_location_and_diff(project: Path, pg_admin_dsn: str) -> None:
    result = invoke(project, "test", server=pg_admin_dsn)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS audiences/toy.tests.yaml:2:5 toy: wishes are counted per product (")
    assert lines[1].startswith("FAIL audiences/toy.tests.yaml:17:5 toy: a wrong expectation (")
    # min_wishes 2: Alpha's single wish is filtered in SQL, so no product is left
    assert lines[2:4] == [
        "  output all_products: expected 1 row(s), got 0 ('-' expected only, '+' actual only)",
        "      - name=Alpha | wishes=1",
    ]
    assert lines[-1] == "1 passed, 1 failed"


def test_json(project: Path, pg_admin_dsn: str) -> None:
    result = invoke(project, "--json", "test", "--select", "toy", server=pg_admin_dsn)
    payload = json.loads(result.stdout)
    assert (payload["ok"], payload["passed"], payload["failed"]) == (False, 1, 1)
    assert [c["ok"] for c in payload["cases"]] == [True, False]


def test_a_bad_file_is_a_located_error(project: Path, pg_admin_dsn: str) -> None:
    cases = project / "audiences" / "toy.tests.yaml"
    cases.write_text(cases.read_text().replace("wishlist_items:\n", "wishlist_item:\n", 1))
    result = invoke(project, "test", server=pg_admin_dsn)
    assert result.exit_code == 1
    assert "audiences/toy.tests.yaml:7:7: error: unknown app table 'wishlist_item'" in result.stderr
    assert "hint: did you mean 'wishlist_items'?" in result.stderr


def test_no_cases(tmp_path: Path, pg_admin_dsn: str) -> None:
    result = invoke(make_project(tmp_path / "p"), "test", server=pg_admin_dsn)
    assert result.exit_code == 0 and "no test cases" in result.stdout
