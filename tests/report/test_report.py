"""Run reports for a succeeded, a partial, a failed and an empty run, read back with an HTML parser.

The toy project (tests/interpreter/test_toy_audience.py) has three products: A (2 live
wishes), B (1 live wish) and C (none); its threshold ``wish_count >= 1`` removes C. Two
hostile product names are added here: one that a spreadsheet would run as a formula and
one that is markup. Expected counts below follow from those rows, worked out by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import api
from engine.cli.main import cli
from engine.config import resolve
from engine.report.sample import MASK
from tests.fixtures.appdata import AppData, ts
from tests.fixtures.htmlpage import parse
from tests.interpreter.test_toy_audience import AS_OF, TOY_YAML, make_project

FORMULA = '=HYPERLINK("http://evil.invalid","x")'
MARKUP = "<script>alert(1)</script>"
BROKEN_OUTPUT = """\
  - name: broken
    file: "toy-broken_{timestamp}.csv"
    order_by: [{column: product_name}]
    columns:
      product_id: no_such_column
"""


@pytest.fixture
def world(app_db: str, tmp_path: Path) -> dict[str, object]:
    d = AppData(app_db)
    old = ts("2026-11-01T00:00:00+00:00")
    a, b = d.variant(d.product("A")), d.variant(d.product("B"))
    d.product("C")
    u1, u2 = d.user("U1"), d.user("U2")
    for user, variant in ((u1, a), (u2, a), (u1, b)):
        d.wishlist(user, variant, created_at=old)
    for name in (FORMULA, MARKUP):  # each with one live wish: both pass the threshold
        d.wishlist(d.user("W"), d.variant(d.product(name)), created_at=old)
    d.close()
    return {"dsn": app_db, "project": make_project(tmp_path / "p"), "out": tmp_path / "out"}


def _run(world: dict[str, object], *, source: str | None = None, pii: tuple[str, ...] = (), **variables: object):
    settings = resolve(
        {
            "source_dsn": source or world["dsn"],
            "state_dsn": world["dsn"],
            "output_dir": world["out"],
            "project_dir": world["project"],
            "report_pii_columns": pii,
        },
        env={},
    )
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF, variables=variables)
    return settings, result


def test_succeeded_run_report_funnel_files_sample_masked_and_escaped(world: dict[str, object]) -> None:
    _, result = _run(world, pii=("label",))
    assert result.status == "succeeded"
    path = result.run_dir / "report.html"
    raw = path.read_text(encoding="utf-8")
    page = parse(path)
    assert page.texts["run-status"] == "succeeded"
    # offline: nothing is fetched from outside (pygal's script CDN is switched off)
    assert page.script_srcs == [] and all(h.startswith("data:") for h in page.style_links)
    assert "<script>alert(1)" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert page.sections == ["funnel-all_products", "funnel-popular"]
    funnel = {row[0]: row[1:] for row in page.rows("funnel-table")[1:]}
    # 5 products loaded; C fails the threshold -> 4; all_products writes those 4 rows
    assert funnel["query products"][0] == "5" and funnel["thresholds"][:2] == ["4", "1"]
    assert funnel["passes all: wish_count >= 1"][:2] == ["4", "1"]
    assert funnel["output all_products"][0] == "4"
    files = {row[0]: row for row in page.rows("files")[1:]}
    csv_name = result.manifest.output("all_products", test=False).file
    assert files[csv_name][3] == "4" and files[csv_name][4] == result.manifest.output("all_products", test=False).sha256
    sample = page.rows("sample-table")
    assert sample[0] == ["product_id", "name", "wishes", "label"]
    cells = [c for row in sample[1:] for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells  # spreadsheet-safe
    assert MARKUP in cells  # shown as text, escaped in the source
    assert {row[3] for row in sample[1:]} == {MASK}  # label is configured as PII
    assert page.texts["warnings"] == "none"


def test_empty_run_report(world: dict[str, object]) -> None:
    # min_wishes 100: no product has 100 wishes -> wish_count is 0 everywhere -> the threshold removes all 5
    _, result = _run(world, min_wishes=100)
    assert result.status == "empty"
    page = parse(result.run_dir / "report.html")
    assert page.texts["run-status"] == "empty" and page.texts["audience-size"] == "0"
    funnel = {row[0]: row[1:] for row in page.rows("funnel-table")[1:]}
    assert funnel["thresholds"][:2] == ["0", "5"]
    # one threshold removed 5 of 5 rows: above the default 50 %
    assert "removed 5 of 5 rows" in page.texts["warnings"]


def test_failed_run_report(world: dict[str, object], empty_db: str) -> None:
    # the source database has no app schema: the first query fails, no file is written
    _, result = _run(world, source=empty_db)
    assert result.status == "failed"
    page = parse(result.run_dir / "report.html")
    assert page.texts["run-status"] == "failed"
    assert all(row[2].startswith("failed") for row in page.rows("files")[1:])
    assert "no rows written" in (result.run_dir / "report.html").read_text(encoding="utf-8")


def test_partial_run_report(world: dict[str, object]) -> None:
    project = world["project"]
    (project / "audiences" / "toy.yaml").write_text(TOY_YAML + BROKEN_OUTPUT)
    _, result = _run(world)
    assert result.status == "partial"
    page = parse(result.run_dir / "report.html")
    assert page.texts["run-status"] == "partial"
    status = {row[1]: row[2] for row in page.rows("files")[1:]}
    assert status["all_products"] == "written" and status["broken"].startswith("failed")
    assert page.sections == ["funnel-all_products", "funnel-popular", "funnel-broken"]


def test_size_jump_warning_and_history(world: dict[str, object]) -> None:
    settings, _ = _run(world, min_wishes=100)  # 0 rows
    _, big = _run(world)  # 4 all_products rows + 1 popular (only A has 2 wishes) after a run of 0
    assert "after previous runs of 0 rows" in parse(big.run_dir / "report.html").texts["warnings"]
    path = api.report_history(settings, "toy")
    rows = parse(path).rows("history")[1:]
    assert [(r[2], r[3]) for r in rows] == [("empty", "0"), ("succeeded", "5")]
    assert path.read_text(encoding="utf-8").count("<svg") == 1


def test_report_command_finds_a_run_by_short_id(world: dict[str, object]) -> None:
    _, result = _run(world)
    (result.run_dir / "report.html").unlink()
    out = CliRunner().invoke(
        cli,
        ["--project-dir", str(world["project"]), "report", result.run_id[:8]],
        env={"ENGINE_OUTPUT_DIR": str(world["out"])},
    )
    assert out.exit_code == 0, out.output
    assert Path(out.output.strip()) == result.run_dir / "report.html" and (result.run_dir / "report.html").exists()
    missing = CliRunner().invoke(
        cli,
        ["--project-dir", str(world["project"]), "report", "deadbeef"],
        env={"ENGINE_OUTPUT_DIR": str(world["out"])},
    )
    assert missing.exit_code != 0 and "no run folder found" in missing.output


@pytest.mark.parametrize("name", ["../../x", "../escape", "a/b", "..", ".hidden", "x\\y", "/tmp/abs"])
def test_report_history_name_cannot_leave_the_output_root(world: dict[str, object], tmp_path: Path, name: str) -> None:
    # issue 22 item 5d: --history ../../x wrote <output>/../../x/history.html
    from click.testing import CliRunner  # noqa: PLC0415

    from engine.cli.main import cli  # noqa: PLC0415

    out = tmp_path / "deep" / "er" / "out"
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(world["project"]), "report", "--history", name],
        env={
            "ENGINE_OUTPUT_DIR": str(out),
            "ENGINE_STATE_DSN": str(world["dsn"]),
            "ENGINE_SOURCE_DSN": "",
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )
    shown = result.stdout + result.stderr
    assert result.exit_code == 2 and "Traceback" not in shown, shown
    assert "--history" in shown and "refused" in shown, shown
    assert [p for p in tmp_path.rglob("*") if p.name == "history.html"] == []
    assert not Path("/tmp/abs/history.html").exists()


@pytest.mark.parametrize("run_id", ["../../../../x/deadbeef", "deadbeef/../../x", "dead beef 1234"])
def test_report_run_id_must_be_a_run_id(world: dict[str, object], tmp_path: Path, run_id: str) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from engine.cli.main import cli  # noqa: PLC0415

    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(world["project"]), "report", run_id],
        env={
            "ENGINE_OUTPUT_DIR": str(tmp_path / "out"),
            "ENGINE_STATE_DSN": "",
            "ENGINE_SOURCE_DSN": "",
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )
    shown = result.stdout + result.stderr
    assert result.exit_code == 2 and "Traceback" not in shown and "not a run id" in shown, shown


def test_report_html_replaced_by_a_directory_is_a_clear_error(world: dict[str, object]) -> None:
    # issue 22 item 6b: `engine report` gave an IsADirectoryError traceback
    from click.testing import CliRunner  # noqa: PLC0415

    from engine.cli.main import cli  # noqa: PLC0415

    _, result = _run(world)
    report = result.run_dir / "report.html"
    report.unlink()
    report.mkdir()
    (report / "keep").write_text("x")
    out = CliRunner().invoke(
        cli,
        ["--project-dir", str(world["project"]), "report", result.run_id],
        env={
            "ENGINE_OUTPUT_DIR": str(world["out"]),
            "ENGINE_STATE_DSN": str(world["dsn"]),
            "ENGINE_SOURCE_DSN": "",
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )
    shown = out.stdout + out.stderr
    assert out.exit_code == 1 and "Traceback" not in shown, shown
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
    assert "report.html" in shown and "is a directory" in shown, shown
    assert (report / "keep").read_text() == "x"  # nothing of it removed
