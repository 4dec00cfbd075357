"""The procrastinate tasks: one per phase, plus a periodic tick that plans runs and recovers stalled jobs.

procrastinate gives the guarantees: a job is claimed by one worker; jobs of one run share a
``lock`` (never two phases of a run at once); ``queueing_lock`` keeps one waiting job per run
and phase; ``schedule_at`` holds a phase until its time; periodic deferral happens once per
period across workers; heartbeats tell which worker died, and the tick hands its jobs back
(``queued_jobs.hand_back``: once, counted by the replica that did it and recorded for every replica's /metrics).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job

from engine.automations.planner import plan_runs
from engine.automations.timeline import Phase
from engine.delivery.shard import Shard
from engine.observe import hooks
from engine.scheduler.phases import Fanout, PhaseContext, ShardJob, advance, alert_on, send_shard
from engine.state import queued_jobs
from engine.state.connection import state_connection

log = logging.getLogger("engine.scheduler")

QUEUE = "engine-scheduler"
NAMESPACE = "engine"
TICK_CRON = "* * * * * */2"  # every 2 seconds (croniter's 6th field is seconds)
blueprint = procrastinate.Blueprint()


@dataclass(frozen=True)
class WorkerContext:
    """Handed to every job through procrastinate's ``additional_context``."""

    phase: PhaseContext
    stalled_after: float  # seconds without a heartbeat before a worker's jobs are handed back


def _context(context: procrastinate.JobContext) -> WorkerContext:
    return (context.additional_context or {})["engine"]


async def defer_phase(app: procrastinate.App, phase: Phase, run_id: str, at: datetime) -> None:
    """Queue ``phase`` of ``run_id`` for ``at``; a job already waiting for it is kept."""
    try:
        await app.configure_task(
            f"{NAMESPACE}:{phase.value}",
            queue=QUEUE,
            lock=run_id,
            queueing_lock=f"{run_id}:{phase.value}",
            schedule_at=at,
        ).defer_async(run_id=run_id)
    except AlreadyEnqueued:
        pass


async def defer_shard(app: procrastinate.App, run_id: str, job: ShardJob) -> None:
    """Queue one shard of a live send. No run lock: the shards of a run are meant to run at the same time."""
    try:
        await app.configure_task(
            f"{NAMESPACE}:send_shard", queue=QUEUE, queueing_lock=f"{run_id}:{job.push}:{job.shard}"
        ).defer_async(run_id=run_id, push=job.push, shard=str(job.shard))
    except AlreadyEnqueued:
        pass


async def _run_phase(context: procrastinate.JobContext, run_id: str) -> None:
    step = await asyncio.to_thread(advance, _context(context).phase, run_id)
    if isinstance(step, Fanout):
        for job in step.shards:
            await defer_shard(context.app, run_id, job)
    elif step is not None:
        await defer_phase(context.app, step.phase, run_id, step.at)


@blueprint.task(name="generate", pass_context=True, queue=QUEUE)
async def generate(context: procrastinate.JobContext, run_id: str) -> None:
    """Run the audience once and freeze its files (or reuse the frozen run folder)."""
    await _run_phase(context, run_id)


@blueprint.task(name="test", pass_context=True, queue=QUEUE)
async def test(context: procrastinate.JobContext, run_id: str) -> None:
    """TEST pushes to the test users, then open the cancellation window."""
    await _run_phase(context, run_id)


@blueprint.task(name="live", pass_context=True, queue=QUEUE)
async def live(context: procrastinate.JobContext, run_id: str) -> None:
    """The live send of exactly the frozen files, at T-0."""
    await _run_phase(context, run_id)


@blueprint.task(name="send_shard", pass_context=True, queue=QUEUE)
async def send_shard_job(context: procrastinate.JobContext, run_id: str, push: str, shard: str) -> None:
    """One shard of a live send; then the live phase again, which reports once no shard is left running."""
    phase = _context(context).phase
    await asyncio.to_thread(send_shard, phase, run_id, ShardJob(push, Shard.parse(shard)))
    await defer_phase(context.app, Phase.LIVE, run_id, phase.clock())


@blueprint.task(name="cleanup", pass_context=True, queue=QUEUE)
async def cleanup(context: procrastinate.JobContext, run_id: str) -> None:
    await _run_phase(context, run_id)


async def tick_once(app: procrastinate.App, ctx: WorkerContext) -> None:
    """Plan due runs, queue their generate jobs, hand back the jobs of dead workers."""

    def plan() -> list[Any]:
        settings = ctx.phase.settings
        with state_connection(settings) as conn:
            return plan_runs(
                conn,
                ctx.phase.definition(),
                ctx.phase.clock(),
                worker=ctx.phase.worker,
                on_missed=lambda run: alert_on(settings, run, run.reason),
            )

    def hand_back(job: Job) -> queued_jobs.HandBack | None:
        run_id = (job.task_kwargs or {}).get("run_id")
        with state_connection(ctx.phase.settings) as conn:
            return queued_jobs.hand_back(
                conn,
                job.id or 0,
                job.worker_id,
                task=job.task_name,
                run_id=str(run_id) if run_id is not None else None,
                by=ctx.phase.worker,
            )

    recovered = 0
    for job in await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=ctx.stalled_after):
        how = await asyncio.to_thread(hand_back, job)
        if how is None:
            continue  # another replica handed it back first (and counted it)
        recovered += 1
        log.warning(
            "handed back the job of a dead worker (%s)",
            how.value,
            extra={"job": job.id, "task": job.task_name, "run": (job.task_kwargs or {}).get("run_id")},
        )
    if recovered:
        hooks.stalled_jobs_recovered(recovered)
    for planned in await asyncio.to_thread(plan):
        await defer_phase(app, planned.phase, planned.run_id, planned.at)


@blueprint.periodic(cron=TICK_CRON, periodic_id="tick")
@blueprint.task(name="tick", pass_context=True, queue=QUEUE, queueing_lock="engine-scheduler-tick")
async def tick(context: procrastinate.JobContext, timestamp: int) -> None:
    await tick_once(context.app, _context(context))
