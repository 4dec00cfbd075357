"""schedules.yaml's model is the one declaration of its fields: the schema file is generated from it,
and the file's defaults (leads, missed policy, enabled) come from the model."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import ScheduleError
from engine.push.template import PushTemplate
from engine.schedules.loader import load_schedules
from engine.schedules.model import Automation, MissedPolicy
from engine.schedules.schema import SCHEMA_FILE, render
from tests.validate.helpers import make_project

SCHEDULES_DIR = Path(__file__).resolve().parents[3] / "engine" / "schedules"
BLOCK = "    cancellation_window: 25m\n"


def test_the_committed_schema_is_the_generated_one() -> None:
    assert (SCHEDULES_DIR / SCHEMA_FILE).read_text("utf-8") == render(), (
        "the model changed: run `python -m engine.schedules.schema` and commit the schema file"
    )


def test_blocks_and_text_values_become_typed_fields(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        "schedules.yaml",
        BLOCK,
        BLOCK + "    missed: {policy: late, grace: 1h30m}\n    start_date: '2026-12-01'\n    max_audience_size: 0\n",
    )
    schedules = load_schedules(project)
    automation = schedules.automation("daily_mini")
    assert automation is not None
    assert (automation.cron.fields, automation.timezone) == ("30 12 * * *", "America/Chicago")  # schedule: block
    assert (automation.missed_policy, automation.missed_grace) == (MissedPolicy.LATE, timedelta(hours=1, minutes=30))
    assert (automation.start_date, automation.end_date, automation.max_audience_size) == (date(2026, 12, 1), None, 0)
    assert str(automation.location) == "schedules.yaml:10:5"
    template = schedules.templates["mini_closet"]
    assert (template.name, template.audience, template.output, template.layer) == ("mini_closet", "mini", "closet", 3)
    assert str(template.locate("body")) == "schedules.yaml:7:5" and schedules.source == "schedules.yaml"


def test_a_choice_outside_its_enum_is_a_located_error(tmp_path: Path) -> None:
    project = make_project(tmp_path, "schedules.yaml", BLOCK, BLOCK + "    missed: {policy: sometimes}\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(project)
    assert (
        f"{caught.value.location}: {caught.value.message}"
        == "schedules.yaml:15:14: automations[0].missed.policy: 'sometimes' is not one of ['skip', 'late']"
    )


def test_code_builds_the_same_models_with_attribute_names() -> None:
    automation = Automation(id="a", audience="x", cron="0 9 * * *", timezone="UTC", pushes=("p",))
    assert (automation.generate_lead, automation.test_lead, automation.missed_policy, automation.enabled) == (
        timedelta(minutes=30),
        timedelta(minutes=25),
        MissedPolicy.SKIP,
        True,
    )
    with pytest.raises(ValidationError):
        Automation(id="a", audience="x", cron="0 9 * * *", timezone="UTC", pushes=("p",), missed_policy="never")
    adhoc = PushTemplate(title="t", body="b", layer=1)  # a push from the command line: no audience, no link
    assert (adhoc.deep_link, adhoc.audience, adhoc.name) == (None, None, None)


def test_a_copy_with_changes_keeps_unset_dates_unset(tmp_path: Path) -> None:
    # `engine demo` compresses an automation's timeline with dataclasses.replace: every field is validated
    # again, and an unset start_date / end_date (None) must stay None, not be parsed as text
    project = make_project(tmp_path, "schedules.yaml", BLOCK, BLOCK)
    [automation] = load_schedules(project).automations[:1]
    copy = replace(automation, generate_lead=timedelta(seconds=20), max_audience_size=None)
    assert (copy.generate_lead, copy.start_date, copy.end_date) == (timedelta(seconds=20), None, None)
