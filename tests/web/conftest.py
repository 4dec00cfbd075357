"""One toy run, and the operator app over it: through Starlette's test client, or served by uvicorn on a real port."""

from __future__ import annotations

from typing import Iterator

import pytest
from starlette.testclient import TestClient

from engine import api
from engine.config import Settings, resolve
from engine.pipeline import RunResult
from engine.web.server import RunningServer, operator_app, start_in_thread
from tests.interpreter.test_toy_audience import AS_OF
from tests.report.test_report import world  # noqa: F401  (fixture: toy products, two hostile names)

TOKEN = "op-token-7f3a9c"
PAGE = "http://127.0.0.1:8765"  # the test client's address: a Host the page answers by default


@pytest.fixture
def ran(world: dict[str, object]) -> tuple[Settings, RunResult]:
    settings = resolve(
        {
            "source_dsn": world["dsn"],
            "state_dsn": world["dsn"],
            "output_dir": world["out"],
            "project_dir": world["project"],
            "serve_token": TOKEN,
        },
        env={},
    )
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF)
    return settings, result


def client_for(settings: Settings) -> TestClient:
    """The app bound (as far as its Host names go) to 127.0.0.1, called in process."""
    return TestClient(operator_app(settings, bound=("127.0.0.1",)), base_url=PAGE)


@pytest.fixture
def client(ran: tuple[Settings, RunResult]) -> Iterator[tuple[TestClient, RunResult]]:
    settings, result = ran
    with client_for(settings) as test_client:
        yield test_client, result


@pytest.fixture
def served(ran: tuple[Settings, RunResult]) -> Iterator[tuple[RunningServer, RunResult]]:
    settings, result = ran
    server = start_in_thread(settings, port=0)
    yield server, result
    server.stop()
