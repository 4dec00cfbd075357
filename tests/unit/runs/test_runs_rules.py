"""The run's status rules, when_empty and TEST-row picking: pure functions, no database."""

from __future__ import annotations

import pytest

from engine.outputs.testrows import source_offset
from engine.runs.model import OutputRecord, OutputStatus, RunStatus, StepRecord
from engine.runs.rules import audience_empty, run_status, skip_output


def _out(status: OutputStatus, rows: int = 0, *, test: bool = False) -> OutputRecord:
    return OutputRecord(name="o", file="o.csv", is_test=test, status=status, rows=rows)


W, E, F = OutputStatus.WRITTEN, OutputStatus.EMPTY_NOT_WRITTEN, OutputStatus.FAILED


@pytest.mark.parametrize(
    ("outputs", "errors", "expected"),
    [
        ([_out(W, 5)], [], RunStatus.SUCCEEDED),
        ([_out(W, 0), _out(E, 0)], [], RunStatus.EMPTY),  # written but no production rows
        ([_out(E, 0), _out(W, 1, test=True)], [], RunStatus.EMPTY),  # TEST rows do not count
        ([_out(W, 5), _out(F)], ["output o: x"], RunStatus.PARTIAL),  # an error but something was written
        ([_out(W, 5), _out(F)], [], RunStatus.PARTIAL),  # a failed output alone makes it partial
        ([_out(F), _out(F)], ["audience failed"], RunStatus.FAILED),  # errors and nothing written
        ([], ["query failed"], RunStatus.FAILED),
    ],
)
def test_run_status(outputs: list[OutputRecord], errors: list[str], expected: RunStatus) -> None:
    assert run_status(outputs, errors) is expected


STEPS = [
    StepRecord("load:a", 10, 0),
    StepRecord("join", 10, 0),
    StepRecord("require", 0, 0),
    StepRecord("thresholds", 0, 0),
]


def test_when_empty_rules() -> None:
    assert not audience_empty("write_outputs", STEPS, [0, 0])  # always writes
    assert audience_empty("no_files", STEPS, [0, 0])  # every output empty
    assert not audience_empty("no_files", STEPS, [0, 3])
    # before thresholds: the step before "thresholds" (require) kept 0 rows, whatever the outputs say
    assert audience_empty("no_files_before_thresholds", STEPS, [3])
    kept = [StepRecord("join", 4, 0), StepRecord("thresholds", 0, 0)]
    assert not audience_empty("no_files_before_thresholds", kept, [0])  # rows reached the thresholds
    # without a thresholds step it falls back to "every output empty"
    assert audience_empty("no_files_before_thresholds", STEPS[:3], [0])


def test_skip_output() -> None:
    assert skip_output(0, "skip", no_files=False)
    assert not skip_output(0, "write", no_files=False)
    assert skip_output(7, "write", no_files=True)
    assert not skip_output(7, "skip", no_files=False)


@pytest.mark.parametrize(
    ("source_row", "rows", "expected"),
    [
        (1, 10, 0),
        (3, 10, 2),
        (3, 2, 1),  # 1-based; past the end means the last row
        (None, 10, None),
        (1, 0, None),  # no source row configured, or nothing to borrow from
    ],
)
def test_test_row_source_offset(source_row: int | None, rows: int, expected: int | None) -> None:
    assert source_offset(source_row, rows) == expected
