"""The operator page and the run report say "definition changed since generate", with the changed lines, for a
run whose automation was edited after generate (issue 24, finding 1); quiet when the file matches."""

from __future__ import annotations

import html
from pathlib import Path

import psycopg

from engine.state import runs
from engine.web import views
from tests.scheduler.world import (  # noqa: F401
    Clock,
    SchedWorld,
    automation_yaml,
    drive,
    sched_db,
    sched_world,
    seconds,
    utc,
)
from tests.web.conftest import client_for

T = utc(2026, 11, 30, 9, 0)


def test_the_page_shows_what_changed_since_generate(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_page", "page"))
    sched_world.add_cohort("page", 1)
    run = sched_world.create_run("a_page", T)
    pages: dict[str, str] = {}

    def look(phase: str, now: object) -> None:
        if phase != "live":
            return
        pages["before"] = client_for(sched_world.settings).get("/").text
        path = sched_world.project / "schedules.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('title: "Hi [[var:firstName]]"', 'title: "EDITED [[var:firstName]]"'), "utf-8")
        pages["after"] = client_for(sched_world.settings).get("/").text
        [row] = [a for a in views.automations(sched_world.settings) if a.id == "a_page"]
        pages["lines"] = "\n".join(row.changed)

    drive(sched_world, run.id, Clock(T - seconds(60)), before=look)
    assert "definition changed since generate" not in pages["before"]
    assert 'data-drift="a_page"' in pages["after"] and "definition changed since generate" in pages["after"]
    # the one changed value, written out by hand: the first push's title, frozen -> as the file says now
    assert "Hi [[var:firstName]]" in pages["lines"] and "EDITED [[var:firstName]]" in pages["lines"]
    assert pages["lines"] in html.unescape(pages["after"])
    # the report, rewritten after the run's last phase, says the same: the run sent the frozen copy
    final = sched_world.run(run.id)
    with psycopg.connect(sched_world.dsn) as conn:
        audience_run = runs.get_run(conn, str(final.audience_run_id))
    assert audience_run is not None and audience_run.run_dir
    report = html.unescape((Path(audience_run.run_dir) / "report.html").read_text(encoding="utf-8"))
    assert 'id="drift"' in report and pages["lines"] in report
