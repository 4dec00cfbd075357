"""The project as a whole: `engine validate` finds nothing, and every push template dry-runs on a real run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine import api
from engine.config import Settings
from engine.report.render import REPORT_FILE
from engine.runs.model import OutputStatus
from engine.schedules.loader import load_schedules
from engine.spec.loader import load_project_audiences
from engine.validate.runner import validate_project
from tests.fixtures.htmlpage import parse
from tests.project.conftest import AS_OF, PROJECT, required_vars

TEMPLATES = sorted(load_schedules(PROJECT).templates.items())


def _headlines(report: Any) -> list[str]:
    return [f"{f.path}:{f.line}:{f.col}: {f.severity}: {f.message} [{f.rule}]" for f in report.findings]


def test_validate_finds_nothing(project_settings: Settings) -> None:
    assert _headlines(validate_project(project_settings, cache=False)) == []


def test_validate_on_the_database_finds_nothing(project_settings: Settings) -> None:
    # --db prepares every query on the seeded database: real column and table names
    assert _headlines(validate_project(project_settings, db=True, cache=False)) == []


@pytest.mark.parametrize("name, template", TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_template_dry_runs_on_a_run_of_its_audience(
    project_settings: Settings, seeded_vars: dict[str, Any], tmp_path: Path, name: str, template: Any
) -> None:
    from engine.delivery.request import SendRequest  # noqa: PLC0415

    spec = next(s for s in load_project_audiences(PROJECT) if s.name == template.audience)
    settings = replace(project_settings, output_dir=tmp_path, state_dsn=None)  # a dry run needs no state
    [run] = api.run(
        settings, selectors=[spec.name], as_of=AS_OF, variables=required_vars(spec, seeded_vars), record=False
    )
    assert run.ok, run.manifest.errors
    output = run.manifest.output(template.output, test=False)
    assert output is not None
    if output.status is not OutputStatus.WRITTEN:
        pytest.skip(f"{spec.name}.{template.output} is empty on the seeded data: nothing to send")
    for test in (True, False):
        report = api.send(
            settings, SendRequest(source=run.run_dir, template=name, test=test, dry_run=True, as_of=AS_OF)
        )
        assert report.exit_code == 0, report.as_dict()
        assert any("no state database" in w for w in report.warnings)  # it says what it could not check
        if test:  # the seed gives the test users (the founder) a device: the TEST push has a token
            assert report.no_token == 0 and report.targeted >= 1, report.as_dict()
        preview = report.preview  # the rendered pushes, as many as asked for where rows render
        assert preview is not None and len(preview.samples) == min(3, preview.rows - preview.bad_total) > 0
    # the run's report shows the same samples of the live file
    shown = parse(run.run_dir / REPORT_FILE).rows(f"push-{name}")[1:]
    assert [row[1:3] for row in shown] == [[s.title, s.body] for s in preview.samples]
