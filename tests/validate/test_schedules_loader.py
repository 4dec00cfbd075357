"""engine.schedules: the typed model the scheduler and delivery read from schedules.yaml."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.errors import ScheduleError
from engine.schedules.loader import load_schedules
from engine.schedules.model import MissedPolicy, ScheduleFile
from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import make_project


def test_the_project_schedules() -> None:
    schedules = load_schedules(PROJECT_ROOT)
    layer3 = schedules.automation("daily_layer3")
    assert layer3 is not None
    assert (layer3.audience, layer3.timezone, layer3.pushes) == (
        "layer3_recent_activity",
        "America/Chicago",
        ("layer3_offer_creators", "layer3_closet_adders", "layer3_wishlist_adders"),
    )
    assert (layer3.generate_lead, layer3.test_lead, layer3.window) == (
        timedelta(minutes=30),
        timedelta(minutes=25),
        timedelta(minutes=25),
    )
    assert layer3.cron.fields == "30 12 * * *" and layer3.max_audience_size == 10000
    waterfall = schedules.automation("daily_new_user_waterfall")
    assert waterfall is not None and len(waterfall.pushes) == 5
    assert waterfall.cron.fields == "33 10 * * *"
    star = schedules.templates["waterfall_new_stars"]
    assert star.layer == 5 and star.output == "new_stars"
    # no one's shipping address or payment method in the link (reference 2.4)
    assert "shippingAddressId" not in (star.deep_link or "") and "pm_" not in (star.deep_link or "")
    assert "[[var:top_target_shoe_variantid]]" in (star.deep_link or "")


def test_defaults_and_a_missing_file(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, "schedules.yaml", "    lead: {generate: 30m, test: 25m}\n    cancellation_window: 25m\n", ""
    )
    automation = load_schedules(project).automation("daily_mini")
    assert automation is not None
    assert (
        automation.generate_lead,
        automation.test_lead,
        automation.window,
        automation.enabled,
        automation.missed_policy,
        automation.max_audience_size,
    ) == (timedelta(minutes=30), timedelta(minutes=25), timedelta(minutes=25), True, MissedPolicy.SKIP, None)
    (project / "schedules.yaml").unlink()
    assert load_schedules(project) == ScheduleFile()


def test_the_first_problem_is_raised_with_a_count_of_the_others(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        "schedules.yaml",
        'cron: "30 12 * * *", timezone: America/Chicago',
        'cron: "30 25 * * *", timezone: Mars/Olympus',
    )
    with pytest.raises(ScheduleError) as caught:
        load_schedules(project)
    assert (
        caught.value.message == "automation 'daily_mini': invalid cron '30 25 * * *': hour field: '25' is not "
        "valid (use 0-23, *, a-b, */n, a-b/n, lists)"
    )
    assert str(caught.value.location) == "schedules.yaml:12:26"
    assert caught.value.hint is not None and caught.value.hint.endswith("1 more problem(s): run `engine validate`")
