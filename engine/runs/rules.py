"""The rules that turn what a run did into statuses: per output, ``when_empty``, and the run as a whole.

Pure functions over typed records, so they are tested without a database and the
pipeline only chains the stages.
"""

from __future__ import annotations

from typing import Sequence

from engine.runs.model import OutputRecord, OutputStatus, RunStatus, StepRecord

# spec ``when_empty`` values (audience level)
WRITE_OUTPUTS = "write_outputs"
NO_FILES_BEFORE_THRESHOLDS = "no_files_before_thresholds"


def run_status(outputs: Sequence[OutputRecord], errors: Sequence[str]) -> RunStatus:
    """Failed: errors and nothing written; partial: errors or a failed output; empty: no production rows."""
    written = any(o.status is OutputStatus.WRITTEN for o in outputs)
    failed = any(o.status is OutputStatus.FAILED for o in outputs)
    if errors and not written:
        return RunStatus.FAILED
    if errors or failed:
        return RunStatus.PARTIAL
    if not any(o.rows for o in outputs if not o.is_test):
        return RunStatus.EMPTY
    return RunStatus.SUCCEEDED


def audience_empty(when_empty: str, steps: Sequence[StepRecord], output_rows: Sequence[int]) -> bool:
    """Whether the audience writes no files at all under its ``when_empty`` rule.

    ``write_outputs`` always writes; ``no_files_before_thresholds`` is empty when the step
    before the thresholds kept no rows (the original only checked there); otherwise empty
    means every output has zero rows.
    """
    if when_empty == WRITE_OUTPUTS:
        return False
    if when_empty == NO_FILES_BEFORE_THRESHOLDS:
        names = [s.step for s in steps if not s.step.startswith("load:")]
        rows = [s.rows for s in steps if not s.step.startswith("load:")]
        if "thresholds" in names:
            at = names.index("thresholds")
            return at > 0 and rows[at - 1] == 0
    return all(not r for r in output_rows)


def skip_output(rows: int, output_when_empty: str, *, no_files: bool) -> bool:
    """Whether a production output is left unwritten (``empty_not_written``)."""
    return no_files or (not rows and output_when_empty == "skip")
