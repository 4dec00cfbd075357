"""Delivery test world: a temp project, real PostgreSQL (app + state in one database per test
module), the fake FCM server over real HTTP, and credentials whose token_uri points at it.

Tests in a module share the database, so each asks ``World.add_users`` for fresh users: ids,
tokens and CSV checksums never collide. Import the fixtures by name."""

from __future__ import annotations

import hashlib
import itertools
import shutil
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import psycopg
import pytest

from engine.api import send
from engine.config import Settings
from engine.delivery.pacing import RetryPolicy
from engine.delivery.report import SendReport
from engine.delivery.request import SendRequest
from engine.demo.fake_fcm import FakeFcmServer, write_service_account
from engine.outputs.csvfile import encode_csv
from engine.runs.model import MANIFEST, Manifest, OutputRecord, OutputStatus, RunStatus

REPO = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 23, 18, 30, tzinfo=timezone.utc)
_NUMBERS = itertools.count(1)
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5)

SCHEDULES = """\
version: 1
templates:
  offer_push:
    audience: layer3_recent_activity
    output: offer_creators
    layer: 3
    title: "🎯 The target: [[var:product_name]]s 👟"
    body: "Hey [[var:firstName]], collectors have your size"
    deep_link: "https://tradeblock.us/product/collectors-have?productVariantId=[[var:variantID]]"
  plain_push:
    audience: announcements
    output: everyone
    layer: 1
    title: "Big drop today"
    body: "Open the app"
"""


def user_id(i: int) -> str:
    """Deterministic user id number ``i`` (the same as the SQL helper below makes)."""
    return str(uuid.UUID(hashlib.md5(f"user{i}".encode()).hexdigest()))


def token_of(i: int) -> str:
    return f"tok-{i}"


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_csv(header, rows))
    return path


def write_run(
    run_dir: Path,
    *,
    audience: str = "layer3_recent_activity",
    output: str = "offer_creators",
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    test_rows: Sequence[Sequence[Any]] | None = None,
    run_id: str = "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11",
) -> Path:
    """A run folder as `engine run` writes it (manifest.json + CSVs), made by hand."""
    outputs = []
    for is_test, data in ((False, rows), (True, test_rows)):
        if data is None:
            continue
        name = f"{output}{'_TEST' if is_test else ''}.csv"
        csv_path = write_csv(run_dir / name, header, data)
        outputs.append(
            OutputRecord(
                name=output,
                file=name,
                is_test=is_test,
                rows=len(data),
                sha256=hashlib.sha256(csv_path.read_bytes()).hexdigest(),
                status=OutputStatus.WRITTEN,
            )
        )
    manifest = Manifest(
        run_id=run_id,
        audience=audience,
        layer=3,
        as_of=AS_OF.isoformat(),
        params={},
        status=RunStatus.SUCCEEDED,
        outputs=tuple(outputs),
    )
    (run_dir / MANIFEST).write_bytes(manifest.encode())
    return run_dir


@dataclass
class World:
    settings: Settings
    fcm: FakeFcmServer
    dsn: str
    project: Path
    tokens: dict[str, str] = field(default_factory=dict)  # user id -> token, for the users added

    def add_users(self, count: int, *, token: bool = True, first: int | None = None) -> list[str]:
        """``count`` new users with one device each (token ``tok-<n>``, or none), in order: the next numbers,
        or ``first``, ``first + 1``, ... (the same users whatever ran before; the caller keeps them apart)."""
        numbers = [next(_NUMBERS) for _ in range(count)] if first is None else list(range(first, first + count))
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "INSERT INTO users (id, username) SELECT md5('user' || n)::uuid, 'u' || n FROM unnest(%s::int[]) AS n",
                (numbers,),
            )
            conn.execute(
                "INSERT INTO devices (user_id, fingerprint, token, updated_at)"
                " SELECT md5('user' || n)::uuid, 'fp-' || n, CASE WHEN %s THEN 'tok-' || n END,"
                "        timestamptz '2026-11-01 00:00+00' FROM unnest(%s::int[]) AS n",
                (token, numbers),
            )
        self.tokens.update({user_id(n): token_of(n) for n in numbers if token})
        return [user_id(n) for n in numbers]

    def send(self, source: Path, **kwargs: Any) -> SendReport:
        """``engine.api.send`` at the real time (a real send refuses ``as_of``; dry runs may pass it)."""
        options = {k: kwargs.pop(k) for k in ("retry", "stop", "on_progress") if k in kwargs}
        options.setdefault("retry", FAST_RETRY)
        return send(self.settings, SendRequest(source=source, **kwargs), **options)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def with_settings(self, **changes: Any) -> "World":
        return replace(self, settings=replace(self.settings, **changes))


@pytest.fixture
def fake_fcm() -> Iterator[FakeFcmServer]:
    with FakeFcmServer() as server:
        yield server


@pytest.fixture(scope="module")
def delivery_db(create_database: Callable[..., str]) -> str:
    """One database (app schema + engine state) for a whole test module."""
    return create_database()


@pytest.fixture
def world(delivery_db: str, fake_fcm: FakeFcmServer, tmp_path: Path, source_role: Callable[..., str]) -> World:
    """Settings read the source as a SELECT-only role (as production should; live sends refuse more); ``dsn`` is
    the superuser's, for the test's own writes and checks."""
    project = tmp_path / "project"
    (project / "sql" / "tokens").mkdir(parents=True)
    (project / "audiences").mkdir()  # a project (engine commands refuse a folder without audiences/)
    shutil.copy(REPO / "sql" / "tokens" / "latest_device_token.sql", project / "sql" / "tokens")
    (project / "schedules.yaml").write_text(SCHEDULES, encoding="utf-8")
    credentials = write_service_account(tmp_path / "service-account.json", token_uri=fake_fcm.token_uri)
    settings = Settings(
        project_dir=project,
        source_dsn=source_role(delivery_db),
        state_dsn=delivery_db,
        fcm_credentials=credentials,
        fcm_endpoint=fake_fcm.endpoint,
        fcm_concurrency=8,
        connect_retries=0,
    )
    return World(settings, fake_fcm, delivery_db, project)
