"""Answers kept between validate runs: a warm run finds exactly what a cold one does, edits miss, junk is ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine.documents
import engine.validate.render
from engine.config import resolve
from engine.validate.resultcache import MISS, KnownGood, ResultCache
from engine.validate.runner import validate_project
from tests.validate.helpers import BASE, CASES, headline


def _run(project: Path, cache: Path | None) -> list[str]:
    settings = resolve({"project_dir": project, "lint_cache_dir": cache}, env={})
    return [headline(f) for f in validate_project(settings, cache=cache is not None).findings]


def _mutate(project: Path, case: dict) -> None:
    target = project / case["file"]
    text = target.read_text(encoding="utf-8")
    assert text.count(case["find"]) == 1
    target.write_text(text.replace(case["find"], case["replace"]), encoding="utf-8")


def test_each_broken_project_is_found_through_a_cache_full_of_the_clean_one(tmp_path: Path) -> None:
    # the cache holds the clean project's answers; every one-line edit must still be found, cold and warm
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    shutil.copytree(BASE, project)
    assert _run(project, cache) == []
    for case in CASES:
        shutil.rmtree(project)
        shutil.copytree(BASE, project)
        _mutate(project, case)
        assert _run(project, cache) == case["expect"], case["name"]
        assert _run(project, cache) == case["expect"], case["name"]
        assert _run(project, None) == case["expect"], case["name"]


def test_a_warm_run_reads_the_cache_instead_of_checking_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    shutil.copytree(BASE, project)
    cold = _run(project, cache)
    validated: list[str] = []
    validator = engine.documents.jsonschema.Draft202012Validator

    def recording(schema: dict, *args: object, **kwargs: object) -> object:
        validated.append(schema.get("$id", "a definition"))
        return validator(schema, *args, **kwargs)

    def refuse(*args: object) -> None:
        raise AssertionError("parsed again although the answer was cached")

    monkeypatch.setattr(engine.documents.jsonschema, "Draft202012Validator", recording)
    monkeypatch.setattr(engine.validate.render, "_parse_analysis", refuse)
    assert _run(project, cache) == cold
    assert not [s for s in validated if "audience.v1" in s or "schedules.v1" in s]
    with pytest.raises(AssertionError, match="parsed again"):
        _run(project, None)  # --no-cache bypasses it


def test_corrupt_cache_entries_are_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    shutil.copytree(BASE, project)
    _mutate(project, next(c for c in CASES if c["name"] == "variable not declared as a param"))
    cold = _run(project, None)
    assert cold and _run(project, cache) == cold
    entries = sorted(cache.rglob("*.json"))
    assert {p.parent.name for p in entries} >= {"lint", "columns", "jinja-names", "schema"}
    for junk, entry in zip(["{not json", "[1, 2]", '{"a": 1}', "null", "true", ""] * len(entries), entries):
        entry.write_text(junk)
    assert _run(project, cache) == cold
    assert _run(project, cache) == cold


def test_result_cache_keys_stores_and_misses(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, "kind")
    assert cache.key("ab", "c") != cache.key("a", "bc") != ResultCache(tmp_path, "other").key("a", "bc")
    calls: list[str] = []

    def compute() -> tuple[str, ...] | None:
        calls.append("x")
        return None  # a stored null is an answer, not a miss

    key = cache.key("text")
    assert cache.remember(key, compute) is None and cache.remember(key, compute) is None
    assert calls == ["x"]
    assert isinstance(cache.get(cache.key("other text"), list), type(MISS))
    assert ResultCache(None, "kind").remember(key, compute) is None and calls == ["x", "x"]  # nothing kept
    good = KnownGood(tmp_path, "verdicts", "lib-1.0")
    good.add("doc")
    assert "doc" in KnownGood(tmp_path, "verdicts", "lib-1.0")
    assert "doc" not in KnownGood(tmp_path, "verdicts", "lib-2.0")  # an upgrade misses
