"""One mistake, one error: a typo in an audience's YAML is reported there, not again on what depends on it."""

from __future__ import annotations

from pathlib import Path

from tests.validate.helpers import headline, make_project, validate

CASES = """\
cases:
  - name: anything
    as_of: "2026-11-20T12:00:00Z"
    fixtures: {users: [{id: ann}]}
    expect: {closet: []}
"""


def test_a_yaml_typo_in_an_audience_is_one_error_not_a_cascade_on_its_tests_file(tmp_path: Path) -> None:
    project = make_project(tmp_path, "audiences/mini.yaml", "layer: ", "layr: ")
    (project / "audiences" / "mini.tests.yaml").write_text(CASES, encoding="utf-8")
    assert [headline(f) for f in validate(project).findings] == [
        "audiences/mini.yaml:2:1: error: unknown key 'layr' in (top level) [yaml/unknown-key]"
    ]
