"""engine.schedules: the typed model the scheduler and delivery read from schedules.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ScheduleError
from engine.schedules.loader import load_schedules
from engine.schedules.model import ScheduleFile
from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import make_project


def test_the_project_schedules() -> None:
    schedules = load_schedules(PROJECT_ROOT)
    layer3 = schedules.automation("daily_layer3")
    assert layer3 is not None
    assert (layer3.audience, layer3.timezone, layer3.pushes) == (
        "layer3_recent_activity", "America/Chicago",
        ("layer3_offer_creators", "layer3_closet_adders", "layer3_wishlist_adders"))
    assert (layer3.generate_lead_minutes, layer3.test_lead_minutes, layer3.cancellation_window_minutes) == (30, 25, 25)
    assert layer3.cron.minutes == {30} and layer3.cron.hours == {12}
    waterfall = schedules.automation("daily_new_user_waterfall")
    assert waterfall is not None and len(waterfall.pushes) == 5
    assert waterfall.cron.minutes == {33} and waterfall.cron.hours == {10}
    star = schedules.templates["waterfall_new_stars"]
    assert star.layer == 5 and star.output == "new_stars"
    # no one's shipping address or payment method in the link (reference 2.4)
    assert "shippingAddressId" not in (star.deep_link or "") and "pm_" not in (star.deep_link or "")
    assert "[[var:top_target_shoe_variantid]]" in (star.deep_link or "")


def test_defaults_and_a_missing_file(tmp_path: Path) -> None:
    project = make_project(tmp_path, "schedules.yaml", "    lead_minutes: {generate: 30, test: 25}\n"
                           "    cancellation_window_minutes: 25\n", "")
    automation = load_schedules(project).automation("daily_mini")
    assert automation is not None
    assert (automation.generate_lead_minutes, automation.test_lead_minutes,
            automation.cancellation_window_minutes, automation.enabled) == (30, 25, 25, True)
    (project / "schedules.yaml").unlink()
    assert load_schedules(project) == ScheduleFile()


def test_the_first_problem_is_raised_with_a_count_of_the_others(tmp_path: Path) -> None:
    project = make_project(tmp_path, "schedules.yaml", 'cron: "30 12 * * *", timezone: America/Chicago',
                           'cron: "30 25 * * *", timezone: Mars/Olympus')
    with pytest.raises(ScheduleError) as caught:
        load_schedules(project)
    assert caught.value.message == "automation 'daily_mini': invalid cron '30 25 * * *': hour field: 25 is out of " \
                                   "range 0-23"
    assert str(caught.value.location) == "schedules.yaml:12:26"
    assert caught.value.hint is not None and caught.value.hint.endswith("1 more problem(s): run `engine validate`")
