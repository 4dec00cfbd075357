"""Inferred columns kept between validate runs: same answers from the cache, a broken entry ignored."""

from __future__ import annotations

from pathlib import Path

from engine.validate.sqlcolumns import cached_infer_columns, infer_columns


def test_cached_answers_equal_fresh_ones_and_survive_a_broken_entry(tmp_path: Path) -> None:
    sql = "select u.id as user_id, u.first_name from users as u"
    unreadable = "select from where"  # sqlglot cannot read it: None, cached as None
    assert cached_infer_columns(sql, tmp_path) == infer_columns(sql) == ("user_id", "first_name")
    assert cached_infer_columns(unreadable, tmp_path) is None
    entries = sorted((tmp_path / "columns").glob("*.json"))
    assert len(entries) == 2
    assert cached_infer_columns(sql, tmp_path) == ("user_id", "first_name")  # read back
    for entry in entries:
        entry.write_text("{not json")
    assert cached_infer_columns(sql, tmp_path) == ("user_id", "first_name")  # recomputed, rewritten
    assert cached_infer_columns(sql, None) == ("user_id", "first_name")  # no cache at all
