"""On time at T (issue 24, finding 7): an automation's live pushes leave at T and back to back.

The run's phases run in-process on an injected clock (as in test_phases.py); the live phase is
called the moment the clock reaches T, and the fake FCM server stamps each request it receives
(``time.monotonic()``, the same clock as this process), so a push's delay after T is its
arrival time minus the time the live phase was called. The live phase may fetch one OAuth token:
the fake refuses a second, so a push that opened its own FCM client would fail the run.
"""

from __future__ import annotations

import time

from tests.scheduler.world import TEMPLATE, Clock, SchedWorld, drive, sched_db, sched_world, seconds, utc  # noqa: F401

T = utc(2026, 11, 30, 9, 0)
PUSHES = ("hello", "second", "third", "fourth")
# Bounds for a loaded 2-core CI box. The first push waits for the live phase's own bookkeeping, one setup
# (source role check and pool, FCM client and its OAuth token) and its send's plan: measured 0.10-0.28 s
# with other tests running, 0.71 s at most under four extra busy processes. Each later push waits only for
# the previous send's ledger work: gaps of 0.04-0.18 s, 0.37 s at most under load (0.12-1.27 s when every
# push paid its own setup), so the fourth push leaves within 1.5 s at worst.
FIRST_WITHIN_S = 1.0
LAST_WITHIN_S = 5.0
GAP_WITHIN_S = 1.0


def four_pushes(world: SchedWorld, cohort: str) -> None:
    """Three more layer-1 templates (layer 1 is exempt from cadence: every push reaches everyone)."""
    extra = "".join(
        f"  {name}:\n    audience: cohort\n    output: everyone\n    layer: 1\n"
        f'    title: "{name} [[var:firstName]]"\n    body: "Push {name}"\n'
        for name in PUSHES[1:]
    )
    schedules = TEMPLATE.replace("automations:\n", extra + "automations:\n") + (
        f'  - id: a_on_time\n    audience: cohort\n    schedule: {{cron: "0 9 * * *", timezone: UTC}}\n'
        f"    lead: {{generate: 6s, test: 4s}}\n    vars: {{cohort: {cohort}}}\n"
        f"    pushes: [{', '.join(PUSHES)}]\n"
    )
    (world.project / "schedules.yaml").write_text(schedules, encoding="utf-8")


def test_the_pushes_of_an_automation_leave_at_t_back_to_back(sched_world: SchedWorld) -> None:
    four_pushes(sched_world, "ontime")
    users = sched_world.add_cohort("ontime", 3)
    run = sched_world.create_run("a_on_time", T)
    at_t: list[float] = []

    def mark(phase: str, _now: object) -> None:
        if phase == "live":
            sched_world.fcm.reject_oauth(after=1)  # one OAuth token for the whole live phase, not one per push
            at_t.append(time.monotonic())

    drive(sched_world, run.id, Clock(T - seconds(60)), before=mark)
    assert sched_world.received(users) == [len(PUSHES)] * len(users)
    arrivals = [sched_world.fcm.attempt_times(sched_world.tokens[uid]) for uid in users]
    # each user's requests in push order: the k-th request of every user is push k
    starts = [min(times[k] for times in arrivals) - at_t[0] for k in range(len(PUSHES))]
    ends = [max(times[k] for times in arrivals) - at_t[0] for k in range(len(PUSHES))]
    gaps = [round(start - end, 3) for start, end in zip(starts[1:], ends)]
    print(f"\nlive pushes after T: first {starts[0]:.3f} s, last (push {len(PUSHES)}) {ends[-1]:.3f} s, gaps {gaps}")
    assert starts[0] <= FIRST_WITHIN_S
    assert ends[-1] <= LAST_WITHIN_S
    assert max(gaps) <= GAP_WITHIN_S
