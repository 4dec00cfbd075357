"""Project-level tests: whatever audiences/, sql/ and schedules.yaml hold, never a fixed list.

The project under test is ENGINE_TEST_PROJECT (default: this repository). The meta-test
(tests/integration/test_new_audience.py) points it at a copy with one more audience and runs
this folder in a subprocess, which proves that adding an audience needs no Python change.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from engine.config import Settings, resolve
from engine.spec.loader import load_project_audiences
from engine.spec.model import AudienceSpec, Param
from engine.validate.render import SAMPLE
from tests.conftest import PROJECT_ROOT

PROJECT = Path(os.environ.get("ENGINE_TEST_PROJECT") or PROJECT_ROOT).resolve()
AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)  # the seed's anchor: activity sits before it
SEED_USERS = 400


def audiences() -> list[AudienceSpec]:
    return load_project_audiences(PROJECT)


def example_value(param: Param) -> Any:
    """A value for a param without a default: its type's sample, moved inside its bounds."""
    if param.enum:
        return param.enum[0]
    value = SAMPLE[param.type]
    if param.minimum is not None and isinstance(value, (int, float)) and value < param.minimum:
        value = type(value)(param.minimum)
    return value


def required_vars(spec: AudienceSpec, seeded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """--var values for the params that have no default: what ``seeded`` offers (values with rows in the seeded
    database), else a placeholder of the param's type (run needs one; the result may then be empty)."""
    return {p.name: (seeded or {}).get(p.name, example_value(p)) for p in spec.params if p.default is None}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "audience" in metafunc.fixturenames:
        specs = audiences()
        metafunc.parametrize("audience", specs, ids=[s.name for s in specs])


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT


@pytest.fixture(scope="session")
def seeded_dsn(create_database: Callable[..., str]) -> str:
    """A database seeded as `engine seed` seeds (synthetic data, test users with a device) plus engine state."""
    from engine import api  # noqa: PLC0415

    dsn = create_database(app_schema=False, state=True)
    api.seed_app_database(resolve({"source_dsn": dsn}, env={}), users=SEED_USERS, seed=11, as_of=AS_OF)
    return dsn


@pytest.fixture(scope="session")
def seeded_vars(seeded_dsn: str) -> dict[str, Any]:
    """Param values with rows in the seeded database: the showcase product `engine demo` picks too."""
    import psycopg  # noqa: PLC0415

    from engine.appdb.seed import most_offered_product  # noqa: PLC0415

    with psycopg.connect(seeded_dsn) as conn:
        product = most_offered_product(conn, as_of=AS_OF)
    return {"product_id": str(product)} if product else {}


@pytest.fixture(scope="session")
def project_settings(seeded_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return resolve(
        {"project_dir": PROJECT, "source_dsn": seeded_dsn, "output_dir": tmp_path_factory.mktemp("project-output")},
        env={},
    )
