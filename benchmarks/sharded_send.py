"""Benchmark: one live send by 1 process against the same send split into 2 shards (`engine send --shard K/2`)
sent by 2 processes at once, against the fake FCM server in its own process.

For each fake-FCM answer delay (0: the client's CPU decides; --delay: the round trip decides, as with the real
FCM's ~100 ms) and each worker count, a fresh send of --recipients users is planned once (``--limit 0``: ledger
rows frozen, nothing sent), then sent by that many `engine send` processes started together; the figure is the
wall time from their start to the last one's exit (process start included), and the child CPU per message.
Every run must deliver each message exactly once (counted at the server), or the benchmark stops.

    .venv/bin/python benchmarks/sharded_send.py [--recipients 20000] [--concurrency 32] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.delivery import (
    BODY,
    DEFAULT_DSN,
    FCM_QUOTA_PER_S,
    LINK,
    PROJECT,
    TITLE,
    FakeServer,
    prepare_database,
    write_audience,
)

ENGINE = [sys.executable, "-c", "from engine.cli.main import main; main()", "--json", "send"]


@dataclass(frozen=True)
class Round:
    delay: float
    workers: int
    messages: int
    seconds: float
    cpu_seconds: float  # of the sending processes together

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def send_round(
    server: FakeServer, dsn: str, csv: Path, *, workers: int, concurrency: int, delay: float, recipients: int
) -> Round:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update(
        ENGINE_PROJECT_DIR=str(PROJECT),
        ENGINE_SOURCE_DSN=dsn,
        ENGINE_STATE_DSN=dsn,
        ENGINE_FCM_CREDENTIALS=str(server.credentials),
        ENGINE_FCM_ENDPOINT=server.endpoint,
        ENGINE_FCM_CONCURRENCY=str(concurrency),
        ENGINE_FCM_RATE_PER_MINUTE="10000000",
        ENGINE_LOG_FORMAT="json",
        ENGINE_ALLOW_PRIVILEGED_SOURCE="1",
    )  # the scratch database's superuser
    args = [
        str(csv),
        "--title",
        TITLE,
        "--body",
        BODY,
        "--deep-link",
        LINK,
        "--layer",
        "1",
        "--send-id",
        f"bench-shards-{delay}-{workers}",
    ]
    plan = subprocess.run([*ENGINE, *args, "--limit", "0"], env=env, capture_output=True, text=True)
    if plan.returncode != 0 or json.loads(plan.stdout)["remaining"] != recipients:
        raise RuntimeError(f"planning failed: {plan.stdout}{plan.stderr}")
    before, cpu_before, started = server.accepted(), child_cpu(), time.perf_counter()
    shards = [[]] if workers == 1 else [["--shard", f"{k}/{workers}"] for k in range(1, workers + 1)]
    procs = [
        subprocess.Popen([*ENGINE, *args, *shard], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for shard in shards
    ]
    outputs = [proc.communicate() for proc in procs]
    seconds = time.perf_counter() - started
    reports = [json.loads(out) for out, _ in outputs]
    sent = sum(report["sent_now"] for report in reports)
    if any(proc.returncode for proc in procs) or sent != recipients or server.accepted() - before != recipients:
        raise RuntimeError(f"the send did not deliver each message exactly once: {reports} {outputs}")
    return Round(delay, workers, recipients, seconds, child_cpu() - cpu_before)


def table(rounds: Sequence[Round]) -> str:
    lines = [
        f"{'FCM delay':>9} {'workers':>7} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'CPU us/msg':>10}"
        f" {'vs 1 worker':>11}"
    ]
    single = {r.delay: r for r in rounds if r.workers == 1}
    for r in rounds:
        lines.append(
            f"{r.delay * 1000:>7.0f}ms {r.workers:>7} {r.messages:>9,} {r.seconds:>8.2f} {r.rate:>8,.0f}"
            f" {r.cpu_seconds / r.messages * 1e6:>10,.0f} {r.rate / single[r.delay].rate:>10.2f}x"
        )
    return "\n".join(lines)


def paper(rounds: Sequence[Round], concurrency: int) -> str:
    """How many workers reach FCM's quota at a 100 ms round trip, from the measured CPU per message."""
    cpu_us = min(r.cpu_seconds / r.messages * 1e6 for r in rounds if r.delay == 0)
    latency_bound = concurrency / 0.1  # requests in flight / round trip
    per_worker = min(latency_bound, 1e6 / cpu_us)  # a worker is one process on one core
    workers = -(-FCM_QUOTA_PER_S // int(per_worker))
    return (
        f"On paper: a worker with {concurrency} requests in flight at a 100 ms FCM round trip sends at most "
        f"{latency_bound:,.0f} msg/s, and at ~{cpu_us:,.0f} us CPU per message one core sends at most "
        f"{1e6 / cpu_us:,.0f} msg/s; so {FCM_QUOTA_PER_S:,} msg/s (FCM's default quota, 600k/min) needs "
        f"~{workers} shard workers on {workers} cores (ENGINE_SEND_SHARDS={workers}), or fewer with more "
        f"requests in flight each while the CPU allows."
    )


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32, help="ENGINE_FCM_CONCURRENCY of each worker")
    parser.add_argument("--delay", type=float, default=0.1, help="the fake FCM's answer delay of the second set")
    parser.add_argument("--dsn", default=os.environ.get("ENGINE_BENCH_DSN", DEFAULT_DSN))
    args = parser.parse_args(argv)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        dsn = prepare_database(args.dsn, args.recipients)
        csv = write_audience(tmp / "audience.csv", args.recipients)
        try:
            for delay in (0.0, args.delay):
                server = FakeServer(tmp / f"fcm-{delay}.json", delay=delay)
                try:
                    for workers in (1, 2):  # each round a new send to the same users (layer 1: no cadence)
                        rounds.append(
                            send_round(
                                server,
                                dsn,
                                csv,
                                workers=workers,
                                concurrency=args.concurrency,
                                delay=delay,
                                recipients=args.recipients,
                            )
                        )
                finally:
                    server.stop()
        finally:
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{conninfo_to_dict(dsn)["dbname"]}" WITH (FORCE)')
    print(table(rounds))
    print()
    print(paper(rounds, args.concurrency))


if __name__ == "__main__":
    main(sys.argv[1:])
