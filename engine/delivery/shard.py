"""A shard of a planned send: one contiguous range of its ledger rows, sent by its own process.

A large live send is planned once (its ledger rows frozen under the cadence lock); its shards
then send in parallel, each resumable on its own. Shard ``k/n`` owns the rows whose ``seq`` is
in ``[rows*(k-1)//n, rows*k//n)``: disjoint, covering every row, fixed once the plan is frozen.
Exactly once still holds: a shard holds the send's advisory lock *shared* plus its own range's
lock, a whole-send run holds the send's lock exclusively, and the shard count is pinned on the
send's row at the first shard run, so two different splits never overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import ConfigError

MAX_SHARDS = 256
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 2 <= self.count <= MAX_SHARDS or not 1 <= self.index <= self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count} does not exist",
                hint=f"give K/N with 2 <= N <= {MAX_SHARDS} and 1 <= K <= N, e.g. 2/4",
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> Shard(2, 4)."""
        match = _FORM.fullmatch(text)
        if not match:
            raise ConfigError(f"--shard {text!r} is not K/N", hint="e.g. --shard 2/4: the second of four shards")
        return cls(int(match.group(1)), int(match.group(2)))

    def seq_range(self, rows: int) -> tuple[int, int]:
        """The half-open ``seq`` range this shard owns in a send of ``rows`` ledger rows (seq 0..rows-1)."""
        return rows * (self.index - 1) // self.count, rows * self.index // self.count

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_count(rows: int, *, max_shards: int, rows_per_shard: int) -> int:
    """How many shards a send of ``rows`` pushes is split into: one per ``rows_per_shard``, at most ``max_shards``."""
    if max_shards < 2 or rows <= rows_per_shard:
        return 1
    return min(max_shards, -(-rows // rows_per_shard))
