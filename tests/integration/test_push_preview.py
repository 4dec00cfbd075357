"""See the push before it is sent: `engine send --dry-run` renders samples (PII masked) and names the rows that
would render badly, on a real database and a run folder, through the API and the CLI (text and --json)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import cli
from engine.push.preview import MASK
from tests.fakes.delivery import World, delivery_db, fake_fcm, world, write_run  # noqa: F401
from tests.integration.test_delivery_process import environment

HEADER = ["user_id", "firstName", "product_name", "variantID"]


def _run(world: World, tmp_path: Path) -> tuple[Path, list[str]]:
    """Five users: two with no first name (the body's [[var:firstName]] would be empty), one with a variant id
    that must be URL-encoded in the link."""
    ids = world.add_users(5)
    rows = [
        [ids[0], "Ann", "Dunk Low", "v 1"],
        [ids[1], "", "Jordan 1", "v2"],
        [ids[2], "Cy", "Air Max", "v3"],
        [ids[3], "  ", "Yeezy", "v4"],
        [ids[4], "Dee", "Samba", "v5"],
    ]
    return write_run(tmp_path / "run", header=HEADER, rows=rows, run_id=ids[0]), ids


def test_dry_run_shows_rendered_samples_with_pii_masked_and_the_rows_that_render_badly(
    world: World, tmp_path: Path
) -> None:
    run, ids = _run(world, tmp_path)
    report = world.with_settings(fcm_credentials=None).send(run, template="offer_push", dry_run=True, samples=2)
    preview = report.preview
    assert preview is not None and (preview.template, preview.rows, preview.masked) == ("offer_push", 5, ("firstName",))
    assert [(s.user_id, s.title, s.body, s.deep_link) for s in preview.samples] == [
        (
            ids[0],
            "🎯 The target: Dunk Lows 👟",
            f"Hey {MASK}, collectors have your size",
            "https://tradeblock.us/product/collectors-have?productVariantId=v%201",
        ),
        (
            ids[2],
            "🎯 The target: Air Maxs 👟",
            f"Hey {MASK}, collectors have your size",
            "https://tradeblock.us/product/collectors-have?productVariantId=v3",
        ),
    ]
    [bad] = preview.bad
    assert (bad.reason, bad.count, bad.examples) == ("missing_value:firstName", 2, (ids[1], ids[3]))
    assert report.skipped == {"missing_value:firstName": 2}  # what the send itself would skip


def test_cli_dry_run_prints_the_samples_and_json_carries_them(world: World, tmp_path: Path) -> None:
    run, ids = _run(world, tmp_path)
    env = {**environment(world), "ENGINE_REPORT_PII_COLUMNS": "product_name"}
    args = ["send", str(run), "--template", "offer_push", "--dry-run"]
    text = CliRunner().invoke(cli, args, env=env)
    assert text.exit_code == 0, text.output
    assert "rendered pushes, 3 of 5 rows (product_name masked):" in text.stdout
    assert f"title: 🎯 The target: {MASK}s 👟" in text.stdout and "body:  Hey Ann, collectors" in text.stdout
    assert f"would render badly (missing_value:firstName): 2 row(s), e.g. {ids[1]}, {ids[3]}" in text.stdout
    as_json = CliRunner().invoke(cli, ["--json", *args, "--samples", "1"], env=env)
    assert as_json.exit_code == 0, as_json.output
    preview = json.loads(as_json.stdout)["preview"]
    assert [s["body"] for s in preview["samples"]] == ["Hey Ann, collectors have your size"]
    assert preview["bad"] == [{"reason": "missing_value:firstName", "count": 2, "examples": [ids[1], ids[3]]}]
