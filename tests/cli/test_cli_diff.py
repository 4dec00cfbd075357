"""`engine diff A B`: hand-made folders (as the legacy scripts leave them) and two real runs by id."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from click.testing import CliRunner

from engine.cli.main import cli
from tests.cli.test_cli_run import AS_OF, invoke, project, toy_dsn  # noqa: F401  (fixtures)
from tests.fixtures.appdata import ts, uid


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text.replace("\n", "\r\n"), encoding="utf-8", newline="")


def test_folders_from_anywhere_matched_without_timestamps(tmp_path: Path) -> None:
    old, new = tmp_path / "legacy", tmp_path / "engine"
    # u1 unchanged, u2 count 3 -> 4 (changed), u3 only before (removed), u4 and u5 only after (added)
    write(old, "haves_2026-11-20.csv", "user_id,name,count\nu1,Ann,2\nu2,Bob,3\nu3,Cat,1\n")
    write(new, "haves_20261120_120000.csv", "user_id,name,count\nu1,Ann,2\nu2,Bob,4\nu4,Dan,1\nu5,Eve,9\n")
    write(old, "wants_2026-11-20.csv", "user_id\nu1\n")  # no twin in B
    result = CliRunner().invoke(cli, ["--json", "diff", str(old), str(new)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    [haves] = payload["files"]
    assert (haves["name"], haves["key"], haves["rows_a"], haves["rows_b"]) == ("haves.csv", "user_id", 3, 4)
    assert (haves["added"], haves["removed"], haves["changed"]) == (2, 1, 1)
    assert haves["changed_columns"] == {"count": 1}
    assert haves["size_change"] == 1 and haves["size_change_pct"] == 33.33  # 3 -> 4 rows
    assert haves["examples"]["changed"] == ["u2: count '3' -> '4'"]
    assert payload["only_in_a"] == ["wants.csv"] and payload["same"] is False
    text = CliRunner().invoke(cli, ["diff", str(old), str(new), "--key", "name", "--exit-code"])
    assert text.exit_code == 1
    assert "rows 3 -> 4: +1 (+33.3%); +2 added, -1 removed, ~1 changed" in text.output
    bad_key = CliRunner().invoke(cli, ["diff", str(old), str(new), "--key", "nope"])
    assert bad_key.exit_code == 2 and "--key 'nope' is not a column of both files" in bad_key.output


def test_long_lists_say_how_many_more_and_numbers_read_one_way(tmp_path: Path) -> None:
    old, new = tmp_path / "a", tmp_path / "b"
    write(old, "all.csv", "user_id\n" + "".join(f"u{i}\n" for i in range(1, 1211)))  # u1..u1210
    write(new, "all.csv", "user_id\nu1\nu2\n")  # 1,208 removed
    text = CliRunner().invoke(cli, ["diff", str(old), str(new)]).output
    assert "rows 1,210 -> 2: -1,208 (-99.8%); +0 added, -1,208 removed, ~0 changed" in text
    assert text.count("    - u") == 5 and "    - and 1,203 more removed\n" in text


def test_two_runs_by_id(project: Path, toy_dsn: str, tmp_path: Path) -> None:
    env = {"ENGINE_SOURCE_DSN": toy_dsn}
    out = tmp_path / "out"

    def run_id() -> str:
        result = invoke(project, "--json", "run", "--select", "toy", "--as-of", AS_OF, "--out", str(out), env=env)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["runs"][0]["run_id"]

    first = run_id()
    with psycopg.connect(toy_dsn) as conn:  # a second product with one wish: one more row in toy-all
        conn.execute("INSERT INTO products (id, name) VALUES (%s, 'B')", (uid(90, 1),))
        conn.execute("INSERT INTO product_variants (id, product_id) VALUES (%s, %s)", (uid(90, 2), uid(90, 1)))
        conn.execute("INSERT INTO users (id, first_name) VALUES (%s, 'U3')", (uid(90, 3),))
        conn.execute(
            "INSERT INTO wishlist_items (user_id, product_variant_id, created_at) VALUES (%s, %s, %s)",
            (uid(90, 3), uid(90, 2), ts("2026-11-01T00:00:00+00:00")),
        )
    second = run_id()
    result = invoke(project, "--json", "diff", first[:8], second, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    files = {f["name"]: f for f in json.loads(result.stdout)["files"]}
    # toy-all is keyed by its first column (product_id: no user_id); B is the one added row
    assert (files["toy-all.csv"]["key"], files["toy-all.csv"]["added"], files["toy-all.csv"]["rows_b"]) == (
        "product_id",
        1,
        2,
    )
    assert files["toy-popular.csv"]["same"] is True  # B has 1 wish < 2: not popular
    missing = invoke(project, "diff", "deadbeef", second, "--out", str(out))
    assert missing.exit_code == 2 and "no run with id 'deadbeef'" in missing.stderr
