"""The operator app served over real HTTP for one toy run: shared by the server and browser tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from engine import api
from engine.config import resolve
from engine.pipeline import RunResult
from engine.web.server import RunningServer, start_in_thread
from tests.interpreter.test_toy_audience import AS_OF
from tests.report.test_report import world  # noqa: F401  (fixture: toy products, two hostile names)

TOKEN = "op-token-7f3a9c"


@pytest.fixture
def served(world: dict[str, object]) -> Iterator[tuple[RunningServer, RunResult]]:  # noqa: F811
    settings = resolve({"source_dsn": world["dsn"], "state_dsn": world["dsn"], "output_dir": world["out"],
                        "project_dir": world["project"], "serve_token": TOKEN}, env={})
    [result] = api.run(settings, selectors=["toy"], as_of=AS_OF)
    server = start_in_thread(settings, port=0)
    yield server, result
    server.stop()
