"""Benchmark: push throughput to a local fake FCM server, the engine against a naive SDK loop and the ceiling.

The fake server (engine/demo/fake_fcm.py, Starlette under uvicorn) runs in its own process so it
does not share a GIL with the client; (d) shows its capacity, to check it is not the bottleneck.

  (a) engine end to end: ``engine.api.send`` for --recipients users: CSV read, template
      rendering, token lookup SQL on PostgreSQL, the plan frozen under the cadence lock (ledger rows
      by COPY), per-push in-flight claims and answers group-committed every 20 ms with their
      user_notifications records, all through the engine's FCM client (httpx + google-auth);
  (b) naive: firebase-admin's ``messaging.send_each`` over 500-message batches, rebuilt from its
      public pieces (that SDK cannot be pointed at a local server without its private attributes):
      one thread per message of a batch, each posting through google-auth's ``AuthorizedSession``
      (requests, its default pool of 10 connections, the SDK's urllib3 retries of 500/503), on
      --sample messages;
  (c) baseline: a bare async httpx client posting the same JSON, one single-connection client per
      request in flight, at each of --bare-concurrency (best of them kept), on --sample messages;
  (d) the fake server's own capacity: a raw asyncio HTTP/1.1 client, 8 keep-alive connections;
  (a') and (b') the engine and the naive loop again, on --sample messages, against a second fake
      server where --flaky of the tokens (1 %) answer 503 with Retry-After: 1 once, as FCM does
      under load: what the retry design is for.

  (e) one replica's large send: the engine end to end for --large users (100,000) on the zero-delay fake;
  (f) the same size against a third fake answering after --rtt seconds (0.1: FCM's round trip), with
      --rtt-concurrency requests in flight (rate x round trip: 100,000 in 2 minutes is ~850/s x 0.1 s).

Rates are messages per second of the whole call; "of which sending" is from the first commit of
answers to the last. (b) and (c) run on a sample to keep the run short. The machine is shared
and noisy: the CPU time per message (client process) is printed too, and every figure of one run
is measured in the same run (compare ratios, not runs). Creates and drops a scratch database on
ENGINE_BENCH_DSN (default the local server).

    .venv/bin/python benchmarks/delivery.py [--recipients 200000] [--sample 20000] [--concurrency 32]
        [--bare-concurrency 4,8,16,32] [--large 100000] [--rtt 0.1] [--rtt-concurrency 200]
    .venv/bin/python -m benchmarks --sections delivery --delivery-args "--recipients 20000 --large 0"
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx
import psycopg
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from engine.api import send
from engine.appdb.schema import create_schema
from engine.config import Settings
from engine.delivery.fcm import SCOPES, Push, encode_message
from engine.delivery.request import SendRequest
from engine.scaffold.example import EXAMPLE_DIR
from engine.state.migrate import migrate

PROJECT = EXAMPLE_DIR  # the example project the engine ships (its sql/tokens query looks up device tokens)
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TITLE, BODY = "Hey [[var:firstName]], your size is back", "Collectors have it: make an offer"
LINK = "https://tradeblock.us/product/collectors-have?productVariantId=[[var:variantID]]"
FCM_QUOTA_PER_S = 10_000  # default FCM quota: 600,000 messages per minute per project
# firebase-admin's DEFAULT_RETRY_CONFIG for its requests sessions (firebase_admin/_http_client.py)
SDK_RETRIES = Retry(
    connect=1,
    read=1,
    status=4,
    status_forcelist=[500, 503],
    raise_on_status=False,
    backoff_factor=0.5,
    allowed_methods=None,
)


@dataclass(frozen=True)
class Figure:
    name: str
    messages: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, messages: int, action: Callable[[], Any]) -> Figure:
    started_cpu, started = cpu(), time.perf_counter()
    action()
    figure = Figure(name, messages, time.perf_counter() - started, cpu() - started_cpu)
    print(f"{name}: {figure.rate:,.0f} msg/s, {figure.seconds:.1f} s", file=sys.stderr, flush=True)  # progress
    return figure


class FakeServer:
    """The fake FCM in a child process; counts come from its stats endpoint."""

    def __init__(self, credentials: Path, *, flaky: float = 0.0, delay: float = 0.0) -> None:
        self.credentials = credentials
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.demo.fake_fcm",
                "--no-record",
                "--credentials",
                str(credentials),
                "--flaky",
                str(flaky),
                "--delay",
                str(delay),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        info = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.endpoint: str = info["endpoint"]
        self.send_url = f"{self.endpoint}/v1/projects/{info['project_id']}/messages:send"

    def accepted(self) -> int:
        return int(httpx.get(f"{self.endpoint}/_fake/stats").json()["accepted"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def push(i: int) -> Push:
    link = f"https://tradeblock.us/product/collectors-have?productVariantId=v-{i}"
    return Push(f"tok-{i}", f"Hey Name{i}, your size is back", BODY, link, "bench-send")


def service_account_credentials(credentials: Path) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_file(str(credentials), scopes=SCOPES)


def access_token(credentials: Path) -> str:
    cred = service_account_credentials(credentials)
    cred.refresh(Request())
    return str(cred.token)


# ---- (d) the fake server's capacity ------------------------------------------------------------


def raw_capacity(server: FakeServer, token: str, messages: int, connections: int = 8) -> None:
    host, port = server.endpoint.removeprefix("http://").split(":")
    path = server.send_url.removeprefix(server.endpoint)

    async def worker(count: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in range(count):
            body = encode_message(push(i))
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
        writer.close()

    async def run() -> None:
        await asyncio.gather(*(worker(messages // connections) for _ in range(connections)))

    asyncio.run(run())


# ---- (c) bare async httpx ----------------------------------------------------------------------


def bare_httpx(server: FakeServer, token: str, messages: int, concurrency: int) -> None:
    async def run() -> None:
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [
            httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(
                    limits=one, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
                )
            )
            for _ in range(concurrency)
        ]
        free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in clients:
            free.put_nowait(client)
        headers = {"Authorization": f"Bearer {token}"}

        async def post(i: int) -> None:
            client = await free.get()
            try:
                (
                    await client.post(server.send_url, content=encode_message(push(i)), headers=headers)
                ).raise_for_status()
            finally:
                free.put_nowait(client)

        await asyncio.gather(*(post(i) for i in range(messages)))
        for client in clients:
            await client.aclose()

    asyncio.run(run())


# ---- (b) naive send_each -----------------------------------------------------------------------


def naive_send_each(server: FakeServer, messages: int, *, first: int = 0) -> None:
    """firebase-admin's ``send_each``: a thread per message of each 500-message batch, a requests session."""
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    with AuthorizedSession(service_account_credentials(server.credentials)) as session:
        session.mount("http://", HTTPAdapter(max_retries=SDK_RETRIES))

        def send_one(i: int) -> int:
            return session.post(server.send_url, data=encode_message(push(i)), headers=headers).status_code

        for start in range(first, first + messages, 500):
            batch = range(start, min(first + messages, start + 500))
            with ThreadPoolExecutor(max_workers=len(batch)) as threads:
                failed = [status for status in threads.map(send_one, batch) if status != 200]
            if failed:
                raise RuntimeError(f"naive send_each failed: HTTP {failed[0]}")


# ---- (a) the engine end to end -----------------------------------------------------------------


def prepare_database(admin_dsn: str, recipients: int) -> str:
    name = f"ae_bench_delivery_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    dsn = make_conninfo(admin_dsn, dbname=name)
    with psycopg.connect(dsn) as conn:
        create_schema(conn)
        migrate(conn)
        conn.execute(
            "INSERT INTO users (id, username) SELECT md5('u' || n)::uuid, 'u' || n FROM generate_series(1, %s) AS n",
            (recipients,),
        )
        conn.execute(
            "INSERT INTO devices (user_id, fingerprint, token, updated_at)"
            " SELECT md5('u' || n)::uuid, 'fp', 'tok-' || n, timestamptz '2026-11-01 00:00+00'"
            " FROM generate_series(1, %s) AS n",
            (recipients,),
        )
    return dsn


def write_audience(path: Path, recipients: int, *, first: int = 1) -> Path:
    """The CSV of users ``first`` .. made above (``md5('u' || n)::uuid`` is the UUID of that digest)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("user_id,firstName,variantID\r\n")
        for n in range(first, first + recipients):
            out.write(f"{uuid.UUID(bytes=hashlib.md5(f'u{n}'.encode()).digest())},Name{n},v-{n}\r\n")
    return path


def engine_send(server: FakeServer, dsn: str, csv: Path, concurrency: int, marks: list[tuple[float, int]]) -> None:
    settings = Settings(
        project_dir=PROJECT,
        source_dsn=dsn,
        state_dsn=dsn,
        fcm_credentials=server.credentials,
        fcm_endpoint=server.endpoint,
        fcm_concurrency=concurrency,
        fcm_rate_per_minute=100_000_000,
        allow_privileged_source=True,
    )  # the scratch database's superuser is the source here
    before = server.accepted()
    report = send(
        settings,
        SendRequest(source=csv, title=TITLE, body=BODY, deep_link=LINK, layer=1),
        on_progress=lambda done, total: marks.append((time.perf_counter(), done)),
    )
    if report.status != "completed" or report.failed or server.accepted() - before != report.sent:
        raise RuntimeError(f"engine send did not deliver each message exactly once: {report.message}")


def sending(marks: list[tuple[float, int]]) -> list[Figure]:
    """From the first commit of answers to the last: the sending rate without the send's set-up."""
    if len(marks) < 2:
        return []
    return [
        Figure("    of which sending (first to last commit)", marks[-1][1] - marks[0][1], marks[-1][0] - marks[0][0], 0)
    ]


def measure(
    args: argparse.Namespace, tmp: Path, clean: FakeServer, flaky: FakeServer, slow: FakeServer | None, dsn: str
) -> list[Figure]:
    token = access_token(clean.credentials)
    n, c = args.sample, args.concurrency
    figures = [timed("(d) fake server capacity (raw asyncio client)", n, lambda: raw_capacity(clean, token, n))]
    marks: list[tuple[float, int]] = []
    everyone = write_audience(tmp / "audience.csv", args.recipients)
    figures.append(
        timed(
            f"(a) engine end to end, {c} in flight",
            args.recipients,
            lambda: engine_send(clean, dsn, everyone, c, marks),
        )
    )
    figures.extend(sending(marks))
    bare = [
        timed(f"(c) bare async httpx, {k} connections", n, functools.partial(bare_httpx, clean, token, n, k))
        for k in args.bare_concurrency
    ]
    figures.extend(bare)
    best = max(bare, key=lambda f: f.rate)
    figures.append(
        Figure(f"(c*) best bare: {best.name.removeprefix('(c) ')}", best.messages, best.seconds, best.cpu_seconds)
    )
    figures.append(
        timed("(b) naive send_each (a thread a message), 500 per call", n, lambda: naive_send_each(clean, n))
    )
    first = args.recipients + 1  # users of their own: cadence would hold back a second push to the same ones
    if args.large:
        large = write_audience(tmp / "large.csv", args.large, first=first)
        marks = []
        figures.append(
            timed(
                f"(e) engine, {args.large:,} users, {c} in flight",
                args.large,
                lambda: engine_send(clean, dsn, large, c, marks),
            )
        )
        figures.extend(sending(marks))
        first += args.large
        if slow is not None:
            rtt = write_audience(tmp / "rtt.csv", args.large, first=first)
            marks = []
            k = args.rtt_concurrency
            figures.append(
                timed(
                    f"(f) engine, {args.large:,} users, {args.rtt * 1000:.0f} ms RTT, {k} in flight",
                    args.large,
                    lambda: engine_send(slow, dsn, rtt, k, marks),
                )
            )
            figures.extend(sending(marks))
            first += args.large
    sample = write_audience(tmp / "sample.csv", n, first=first)  # its own users: not a resume of (a)
    figures.append(
        timed(
            f"(a') engine end to end, {args.flaky:.0%} tokens 503+Retry-After",
            n,
            lambda: engine_send(flaky, dsn, sample, c, []),
        )
    )
    # other tokens than (a') used: the flaky server fails each chosen token only once
    figures.append(
        timed(
            f"(b') naive send_each, {args.flaky:.0%} tokens 503+Retry-After",
            n,
            lambda: naive_send_each(flaky, n, first=10 * args.recipients),
        )
    )
    return figures


# ---- report ------------------------------------------------------------------------------------


def table(figures: Sequence[Figure]) -> str:
    lines = [f"{'measurement':50} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'CPU us/msg':>10}"]
    for f in figures:
        cpu_us = f"{f.cpu_us:>10,.0f}" if f.cpu_seconds else ""
        lines.append(f"{f.name:50} {f.messages:>9,} {f.seconds:>8.2f} {f.rate:>8,.0f} {cpu_us}")
    return "\n".join(lines)


def report(figures: list[Figure], concurrency: int) -> str:
    by = {f.name.split(" ")[0]: f for f in figures}
    a, b, c, d, a_flaky, b_flaky = (by[k] for k in ("(a)", "(b)", "(c*)", "(d)", "(a')", "(b')"))
    large = [
        f"{name} {by[key].messages:,} pushes in {by[key].seconds:5.1f} s  (target {target})"
        for key, name, target in (("(e)", "(e)", "about 60 s"), ("(f)", "(f)", "<= 120 s"))
        if key in by
    ]
    per_core = 1e6 / a.cpu_us
    processes = math.ceil(FCM_QUOTA_PER_S / per_core)
    in_flight = math.ceil(FCM_QUOTA_PER_S / processes * 0.1)
    return "\n".join(
        [
            table(figures),
            "",
            f"(a)/(b)   = {a.rate / b.rate:5.2f}  (target >= 5)",
            f"(a)/(c*)  = {a.rate / c.rate:5.2f}  (engine / best bare client: target >= 0.9; (a) >= 1,500 msg/s)",
            f"(a')/(b') = {a_flaky.rate / b_flaky.rate:5.2f}  (transient errors with Retry-After)",
            f"(d)/(c*)  = {d.rate / c.rate:5.2f}  (> 1: the fake server is not the bottleneck)",
            *large,
            "",
            f"FCM's default quota is {FCM_QUOTA_PER_S:,} messages/s. The engine is CPU-bound at ~{a.cpu_us:,.0f} us "
            f"per message here (<= {per_core:,.0f}/s per core), so about {processes} sending processes on "
            f"{processes} cores (the audience split into {processes} CSVs, one send each), each with "
            f"ENGINE_FCM_CONCURRENCY >= rate x round trip = {FCM_QUOTA_PER_S // processes:,}/s x 0.1 s = {in_flight} "
            f"at a 100 ms FCM round trip (measured here with {concurrency} against a local server).",
        ]
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=200_000, help="users in the engine's send (a)")
    parser.add_argument("--sample", type=int, default=20_000, help="messages for (b), (c), (d), (a') and (b')")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight for (a) and (e)")
    parser.add_argument(
        "--bare-concurrency",
        type=lambda text: [int(k) for k in text.split(",")],
        default=[4, 8, 16, 32],
        help="requests in flight for (c), comma-separated: the best is the baseline",
    )
    parser.add_argument("--large", type=int, default=100_000, help="users of (e) and (f); 0 skips both")
    parser.add_argument("--rtt", type=float, default=0.1, help="the fake's answer delay in (f), seconds; 0 skips (f)")
    parser.add_argument("--rtt-concurrency", type=int, default=200, help="requests in flight for (f)")
    parser.add_argument("--flaky", type=float, default=0.01, help="fraction of tokens failing once in (a'), (b')")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("ENGINE_BENCH_DSN", DEFAULT_DSN),
        help="admin DSN of the PostgreSQL server for the scratch database",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        clean = FakeServer(tmp / "clean.json")
        flaky = FakeServer(tmp / "flaky.json", flaky=args.flaky)
        slow = FakeServer(tmp / "slow.json", delay=args.rtt) if args.large and args.rtt else None
        dsn = prepare_database(args.dsn, args.recipients + 2 * args.large + args.sample)
        try:
            figures = measure(args, tmp, clean, flaky, slow, dsn)
        finally:
            clean.stop()
            flaky.stop()
            if slow is not None:
                slow.stop()
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{conninfo_to_dict(dsn)["dbname"]}" WITH (FORCE)')
    print(report(figures, args.concurrency))


if __name__ == "__main__":
    main(sys.argv[1:])
