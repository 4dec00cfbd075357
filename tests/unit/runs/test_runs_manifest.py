"""manifest.json is a contract: the typed Manifest writes exactly today's keys, in order, and reads them back."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.runs.model import (
    MANIFEST,
    Manifest,
    ManifestError,
    OutputRecord,
    OutputStatus,
    RunStatus,
    StepRecord,
    json_ready,
    read_manifest,
)

# The keys `engine run` wrote before the manifest was typed (taken from the pre-change pipeline.py), in order.
TOP_KEYS = [
    "run_id",
    "audience",
    "layer",
    "as_of",
    "params",
    "status",
    "outputs",
    "steps",
    "segments",
    "metrics",
    "errors",
    "warnings",
    "spec",
    "dry_run",
    "seconds",
]
OUTPUT_KEYS = ["name", "file", "is_test", "rows", "sha256", "status", "error", "segment"]


def _manifest() -> Manifest:
    return Manifest(
        run_id="7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11",
        audience="toy",
        layer=3,
        as_of="2026-11-20T12:00:00+00:00",
        params={"min_wishes": 1},
        status=RunStatus.PARTIAL,
        outputs=(
            OutputRecord(
                name="all", file="all.csv", is_test=False, status=OutputStatus.WRITTEN, rows=2, sha256="ab" * 32
            ),
            OutputRecord(
                name="pop",
                file="pop.csv",
                is_test=False,
                status=OutputStatus.FAILED,
                error="bad column",
                segment="popular",
            ),
            OutputRecord(name="all", file="all_TEST.csv", is_test=True, status=OutputStatus.WRITTEN, rows=1),
        ),
        steps=(StepRecord("load:products", 3, 0.01), StepRecord("thresholds", 2, 0.00123456, {"all: x >= 1": 1})),
        segments={"popular": 1},
        metrics=json_ready({"total": Decimal("2.5"), "levels": [{"count": 1}]}),
        errors=("output pop: bad column",),
        spec="audiences/toy.yaml",
        seconds=0.5,
    )


def test_keys_and_order_are_the_contract() -> None:
    data = _manifest().to_json()
    assert list(data) == TOP_KEYS
    assert all(list(o) == OUTPUT_KEYS for o in data["outputs"])
    assert data["status"] == "partial" and data["outputs"][1]["status"] == "failed"
    # a step without removals has no "removed" key; seconds are rounded to 0.1 ms
    assert data["steps"] == [
        {"step": "load:products", "rows": 3, "seconds": 0.01},
        {"step": "thresholds", "rows": 2, "seconds": 0.0012, "removed": {"all: x >= 1": 1}},
    ]
    assert data["metrics"] == {"total": "2.5", "levels": [{"count": 1}]}  # Decimal written as text (default=str)


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    manifest = _manifest()
    (tmp_path / MANIFEST).write_bytes(manifest.encode())
    back = read_manifest(tmp_path)
    assert back.to_json() == manifest.to_json()
    assert back.status is RunStatus.PARTIAL and back.outputs[1].status is OutputStatus.FAILED
    assert back.output("all", test=True) == manifest.outputs[2]
    assert back.output("pop", test=True) is None


def test_statuses_are_enums_that_compare_as_their_json_text() -> None:
    assert RunStatus.SUCCEEDED.ok and RunStatus.EMPTY.ok
    assert not RunStatus.PARTIAL.ok and not RunStatus.FAILED.ok
    assert RunStatus("empty") is RunStatus.EMPTY and OutputStatus.WRITTEN == "written"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a run folder"),
        ("{not json", "is not valid JSON"),
        (json.dumps({"run_id": "x"}), "is not a run manifest"),
        (json.dumps({**_manifest().to_json(), "status": "exploded"}), "is not a run manifest"),
    ],
)
def test_unreadable_manifests_are_errors(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path)
