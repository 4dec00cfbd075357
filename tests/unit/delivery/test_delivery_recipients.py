"""Reading what a send sends: CSV rules (dedup, ids, malformed input) and run folders via manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.delivery.recipients import read_recipients, resolve_source
from engine.errors import DeliveryError
from engine.push.template import PushTemplate, TemplateError
from engine.runs.model import ManifestError
from tests.fakes.delivery import user_id, write_csv, write_run

TEMPLATE = PushTemplate(
    title="t",
    body="b",
    deep_link=None,
    layer=3,
    name="offer_push",
    audience="layer3_recent_activity",
    output="offer_creators",
)
A, B, C = user_id(1), user_id(2), user_id(3)


def test_first_row_wins_and_drops_are_counted(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        ["user_id", "firstName"],
        [[A, "first"], [B, "bee"], [A.upper(), "second"], ["", "no id"], ["not-a-uuid", "x"], [f" {C} ", "cee"]],
    )
    got = read_recipients(path)
    assert got.total_rows == 6
    assert got.duplicates == 1  # A again (ids compare case-insensitively)
    assert got.empty_ids == 1
    assert got.invalid_ids == ("not-a-uuid",)
    assert [(uid, values["firstName"]) for uid, values in got.rows] == [(A, "first"), (B, "bee"), (C, "cee")]


def test_blank_lines_bom_and_id_column_alias(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfuserId,name\r\n\r\n" + f"{A},x\r\n,\r\n{B},y\r\n".encode())
    got = read_recipients(path)
    assert [uid for uid, _ in got.rows] == [A, B]
    assert got.total_rows == 2 and got.empty_ids == 0


def test_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(f"user_id,a\r\n{A},1\r\n{B},2,3\r\n".encode())
    with pytest.raises(DeliveryError) as info:
        read_recipients(path)
    assert info.value.location is not None and info.value.location.line == 3


@pytest.mark.parametrize("where", ["value", "id"])
def test_a_nul_byte_is_refused_with_its_line(tmp_path: Path, where: str) -> None:
    # Python's csv module reads NUL as an ordinary character: without the check, "Ann\0" would be pushed
    path = tmp_path / "nul.csv"
    row = f"{A},Ann\x00" if where == "value" else f"{A}\x00,Ann"
    path.write_bytes(f"user_id,firstName\r\n{B},Bo\r\n{row}\r\n".encode())
    with pytest.raises(DeliveryError, match="NUL byte") as info:
        read_recipients(path)
    assert info.value.location is not None and info.value.location.line == 3  # header, Bo, then the row
    assert info.value.exit_code == 2


def test_no_user_id_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["uid"], [[A]])
    with pytest.raises(DeliveryError, match="no user id column"):
        read_recipients(path)


def test_checksum_identifies_the_bytes(tmp_path: Path) -> None:
    one = read_recipients(write_csv(tmp_path / "1.csv", ["user_id"], [[A]]))
    two = read_recipients(write_csv(tmp_path / "2.csv", ["user_id"], [[A]]))
    three = read_recipients(write_csv(tmp_path / "3.csv", ["user_id"], [[B]]))
    assert one.sha256 == two.sha256 != three.sha256


def test_run_folder_picks_the_template_output(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", header=["user_id"], rows=[[A], [B]], test_rows=[[C]])
    live = resolve_source(run, TEMPLATE, test=False)
    test = resolve_source(run, TEMPLATE, test=True)
    assert live.csv == run / "offer_creators.csv" and test.csv == run / "offer_creators_TEST.csv"
    assert live.run_id == "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11" and live.output == "offer_creators"


def test_run_folder_refuses_a_changed_csv(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", header=["user_id"], rows=[[A]])
    (run / "offer_creators.csv").write_bytes(f"user_id\r\n{B}\r\n".encode())
    with pytest.raises(DeliveryError, match="does not match the checksum"):
        resolve_source(run, TEMPLATE, test=False)


def test_run_folder_errors(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", header=["user_id"], rows=[[A]])
    with pytest.raises(DeliveryError, match="no TEST output 'offer_creators'"):
        resolve_source(run, TEMPLATE, test=True)
    other = PushTemplate(title="t", body="b", deep_link=None, layer=3, name="x", audience="showcase", output="o")
    with pytest.raises(TemplateError, match="is a run of 'layer3_recent_activity'"):
        resolve_source(run, other, test=False)
    adhoc = PushTemplate(title="t", body="b", deep_link=None, layer=3)
    with pytest.raises(TemplateError, match="names its output"):
        resolve_source(run, adhoc, test=False)
    with pytest.raises(ManifestError, match="not a run folder"):
        resolve_source(tmp_path, TEMPLATE, test=False)


def test_empty_and_failed_outputs(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", header=["user_id"], rows=[[A]])
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["outputs"][0].update(status="empty_not_written", sha256=None)
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert resolve_source(run, TEMPLATE, test=False).csv is None
    manifest["outputs"][0].update(status="failed", error="disk full")
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeliveryError, match="disk full"):
        resolve_source(run, TEMPLATE, test=False)
