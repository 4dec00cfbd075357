"""Every audience of the project compiles, previews and runs on a seeded database."""

from __future__ import annotations

import csv
import hashlib
import io
import stat
from dataclasses import replace
from pathlib import Path

from engine import api
from engine.config import Settings
from engine.report.render import REPORT_FILE
from engine.runs.model import MANIFEST, OutputStatus, read_manifest
from engine.spec.model import AudienceSpec
from tests.project.conftest import AS_OF, required_vars


def test_the_project_has_audiences(project_dir: Path) -> None:
    assert list((project_dir / "audiences").glob("*.yaml")), "no audiences/*.yaml"


def test_compile(project_settings: Settings, audience: AudienceSpec) -> None:
    spec, compiled = api.compile_audience(
        project_settings, audience.name, as_of=AS_OF, variables=required_vars(audience)
    )
    rendered = [c.query for c in compiled]
    assert [r.name for r in rendered] == [q.name for q in audience.queries]
    for query in rendered:
        # values are bound, never in the text: every bound name appears as a placeholder
        assert query.sql.strip(), query.name
        for name in query.params:
            assert f"%({name})s" in query.sql, (query.name, name)


def test_preview_writes_nothing(project_settings: Settings, audience: AudienceSpec, tmp_path: Path) -> None:
    settings = replace(project_settings, output_dir=tmp_path)
    [result] = api.run(
        settings,
        selectors=[audience.name],
        as_of=AS_OF,
        variables=required_vars(audience),
        dry_run=True,
        preview_rows=3,
        record=False,
    )
    assert result.ok, result.manifest.errors
    assert result.run_dir is None and list(tmp_path.iterdir()) == []
    for output in audience.outputs:  # a preview shows the first rows of every output it counted
        entry = result.manifest.output(output.name, test=False)
        headers, rows = result.previews[output.name]
        assert entry is not None and headers == [c.header for c in output.columns]
        assert len(rows) == min(3, entry.rows)


def test_run_writes_what_the_manifest_says(project_settings: Settings, audience: AudienceSpec, tmp_path: Path) -> None:
    settings = replace(project_settings, output_dir=tmp_path)
    [result] = api.run(
        settings, selectors=[audience.name], as_of=AS_OF, variables=required_vars(audience), record=False
    )
    assert result.ok, result.manifest.errors
    assert result.run_dir is not None
    manifest = read_manifest(result.run_dir)
    assert manifest.to_json() == result.manifest.to_json()  # what is on disk is what the run returned
    written = [o for o in manifest.outputs if o.status is OutputStatus.WRITTEN]
    on_disk = sorted(p.name for p in result.run_dir.iterdir())
    assert on_disk == sorted([o.file for o in written] + [MANIFEST, REPORT_FILE])  # the run report beside it
    modes = set()
    for entry in written:
        data = (result.run_dir / entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.file
        assert len(list(csv.reader(io.StringIO(data.decode(), newline="")))) == entry.rows + 1  # + header
    for path in result.run_dir.iterdir():
        modes.add(stat.S_IMODE(path.stat().st_mode))
    assert len(modes) == 1, f"files written with different modes: {sorted(oct(m) for m in modes)}"


def test_yaml_test_cases_pass(project_settings: Settings, pg_admin_dsn: str) -> None:
    settings = replace(project_settings, test_dsn=pg_admin_dsn)
    results = api.test(settings)
    failed = [f"{r.case.location} {r.case.title}\n" + "\n".join(r.problems) for r in results if not r.ok]
    assert failed == []
