"""Shards of a send: K/N parsing, and ranges that cover every ledger row exactly once."""

from __future__ import annotations

import random

import pytest

from engine.delivery.shard import MAX_SHARDS, Shard, shard_count
from engine.errors import ConfigError


def test_parse_reads_k_of_n() -> None:
    assert Shard.parse("2/4") == Shard(2, 4)
    assert Shard.parse(" 1 / 2 ") == Shard(1, 2)
    assert str(Shard(3, 7)) == "3/7"


@pytest.mark.parametrize("text", ["", "2", "2/", "/4", "a/b", "2/4/8", "-1/4", "1.5/4"])
def test_parse_refuses_what_is_not_k_of_n(text: str) -> None:
    with pytest.raises(ConfigError, match="is not K/N"):
        Shard.parse(text)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/1", f"1/{MAX_SHARDS + 1}"])
def test_parse_refuses_shards_that_do_not_exist(text: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Shard.parse(text)


def test_the_shards_of_a_send_cover_every_row_exactly_once() -> None:
    rng = random.Random(17)
    cases = [(0, 2), (1, 2), (2, 2), (3, 2), (7, 3), (10, 4), (1000, 7)]
    cases += [(rng.randint(0, 100_000), rng.randint(2, MAX_SHARDS)) for _ in range(200)]
    for rows, count in cases:
        seen = [0] * rows
        sizes = []
        for index in range(1, count + 1):
            lo, hi = Shard(index, count).seq_range(rows)
            sizes.append(hi - lo)
            for seq in range(lo, hi):
                seen[seq] += 1
        assert seen == [1] * rows, (rows, count)
        assert max(sizes) - min(sizes) <= 1, (rows, count)  # balanced: no shard gets more than one extra row


def test_shard_count_is_one_per_rows_per_shard_within_the_maximum() -> None:
    # 120,001 pushes at 50,000 a shard: ceil(120001 / 50000) = 3 shards
    assert shard_count(120_001, max_shards=8, rows_per_shard=50_000) == 3
    assert shard_count(120_001, max_shards=2, rows_per_shard=50_000) == 2  # capped
    assert shard_count(50_000, max_shards=8, rows_per_shard=50_000) == 1  # not over one shard's worth
    assert shard_count(10**6, max_shards=1, rows_per_shard=10) == 1  # sharding off
