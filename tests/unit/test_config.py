"""Settings precedence, checks at start (located, never echoing a secret) and secret masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.config import ENV_VARS, resolve
from engine.errors import ConfigError
from engine.secrets import mask_dsn, mask_text
from tests.security.project import build


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "engine.yaml").write_text(
        "source_dsn: postgresql://file@h/db\npool_size: 4\ntimezone: America/Chicago\n"
        "profiles:\n  prod:\n    pool_size: 20\n"
    )
    env = {"ENGINE_SOURCE_DSN": "postgresql://env@h/db", "ENGINE_POOL_SIZE": "7"}
    s = resolve({"pool_size": 3}, env=env, project_dir=tmp_path)
    assert s.pool_size == 3  # flag beats env and file
    assert s.source_dsn == "postgresql://env@h/db"  # env beats file
    assert s.timezone == "America/Chicago"  # file beats default
    assert s.statement_timeout_s == 300.0  # default
    assert resolve({}, env={}, project_dir=tmp_path).pool_size == 4
    assert resolve({}, env={}, project_dir=tmp_path, profile="prod").pool_size == 20
    assert resolve({}, env={}, project_dir=tmp_path / "nowhere").pool_size == 10


def test_unknown_setting_and_bad_value_are_clear(tmp_path: Path) -> None:
    (tmp_path / "engine.yaml").write_text("pool_sise: 4\n")
    with pytest.raises(ConfigError, match="unknown setting.*pool_sise"):
        resolve({}, env={}, project_dir=tmp_path)
    with pytest.raises(ConfigError, match="ENGINE_POOL_SIZE"):
        resolve({}, env={"ENGINE_POOL_SIZE": "ten"}, project_dir=tmp_path / "x")


def test_broken_yaml_reports_line(tmp_path: Path) -> None:
    (tmp_path / "engine.yaml").write_text("a: 1\nb: [\n")
    with pytest.raises(ConfigError) as info:
        resolve({}, env={}, project_dir=tmp_path)
    assert info.value.location is not None and info.value.location.line is not None


def test_missing_dsn_error_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({}, env={}, project_dir=tmp_path).require_source_dsn()
    assert "ENGINE_SOURCE_DSN" in (info.value.hint or "")


@pytest.mark.parametrize(
    "dsn, expected",
    [
        ("postgresql://bob:hunter2@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("host=db user=bob password=hunter2 dbname=app", "host=db user=bob password=*** dbname=app"),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
    ],
)
def test_mask_dsn(dsn: str, expected: str) -> None:
    assert mask_dsn(dsn) == expected


def test_mask_text_hides_embedded_dsn_and_literals() -> None:
    text = "failed: postgresql://u:pw123@h/db and token ABCDEF"
    out = mask_text(text, "ABCDEF")
    assert "pw123" not in out and "ABCDEF" not in out


def test_test_users_and_test_layer_are_settings(tmp_path: Path) -> None:
    # defaults: the original's founder and layer 4 (reference 2.0 and 4.2), no longer constants in code
    settings = resolve(env={}, project_dir=tmp_path)
    assert [u["user_id"] for u in settings.test_users] == ["0e54067c-4c0e-4e4a-8a23-a47661578059"]
    assert settings.test_layer == 4
    (tmp_path / "engine.yaml").write_text(
        "test_users:\n  - {user_id: 7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11, firstName: Ada}\n", encoding="utf-8"
    )
    settings = resolve(env={"ENGINE_TEST_LAYER": "9"}, project_dir=tmp_path)
    assert settings.test_users == ({"user_id": "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11", "firstName": "Ada"},)
    assert settings.test_layer == 9


def test_parallel_audiences_and_lint_cache_dir_are_settings(tmp_path: Path) -> None:
    s = resolve(
        {},
        env={"ENGINE_PARALLEL_AUDIENCES": "1", "ENGINE_LINT_CACHE_DIR": str(tmp_path / "lint")},
        project_dir=tmp_path,
    )
    assert s.parallel_audiences == 1 and s.lint_cache_dir == tmp_path / "lint"
    defaults = resolve({}, env={}, project_dir=tmp_path)
    assert defaults.parallel_audiences == 2 and defaults.lint_cache_dir is None
    with pytest.raises(ConfigError, match="ENGINE_PARALLEL_AUDIENCES"):
        resolve({}, env={"ENGINE_PARALLEL_AUDIENCES": "0"}, project_dir=tmp_path)


def test_parallel_queries_and_send_shards_are_bounded_settings(tmp_path: Path) -> None:
    defaults = resolve({}, env={}, project_dir=tmp_path)
    # a wave's queries at once by default (up to 4); the scheduler never splits a send unless asked
    assert (defaults.parallel_queries, defaults.send_shards, defaults.send_shard_rows) == (4, 1, 50_000)
    s = resolve(
        {},
        env={"ENGINE_PARALLEL_QUERIES": "3", "ENGINE_SEND_SHARDS": "8", "ENGINE_SEND_SHARD_ROWS": "10"},
        project_dir=tmp_path,
    )
    assert (s.parallel_queries, s.send_shards, s.send_shard_rows) == (3, 8, 10)
    for var, value in [
        ("ENGINE_PARALLEL_QUERIES", "0"),
        ("ENGINE_SEND_SHARDS", "257"),
        ("ENGINE_SEND_SHARD_ROWS", "0"),
    ]:
        with pytest.raises(ConfigError, match=var):
            resolve({}, env={var: value}, project_dir=tmp_path)


BAD_AT_START = [  # (variable, value, words the error must hold): each was accepted and failed later, or never
    ("ENGINE_CADENCE_MODE", "bogus", "'builtin' or 'remote'"),
    ("ENGINE_LOG_FORMAT", "xml", "'auto', 'json' or 'plain'"),
    ("ENGINE_TIMEZONE", "Mars/Olympus", "IANA"),
    ("ENGINE_CADENCE_FAIL_OPEN", "maybe", "boolean"),  # was: silently false
    ("ENGINE_CADENCE_URL", "localhost:3002", "http"),
    ("ENGINE_SERVE_PORT", "70000", "outside 0..65535"),
    ("ENGINE_REPORT_SAMPLE_ROWS", "-1", "outside 0..10000"),
    ("ENGINE_TEST_DSN", "host=h badopt=1", "badopt"),
]


@pytest.mark.parametrize(("var", "value", "words"), BAD_AT_START, ids=[v for v, _, _ in BAD_AT_START])
def test_every_value_is_checked_when_settings_resolve(var: str, value: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(env={var: value}, project_dir=tmp_path)
    assert var in str(caught.value) and words in str(caught.value) and caught.value.exit_code == 2


def test_a_bad_cadence_mode_stops_the_cli_before_any_work(tmp_path: Path) -> None:
    project = build(tmp_path / "project")
    # without the bad mode this run would try the unreachable source and exit 3
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "run", "--as-of", "2026-11-23T12:30:00Z"],
        env={
            "ENGINE_CADENCE_MODE": "bogus",
            "ENGINE_OUTPUT_DIR": str(tmp_path / "out"),
            "ENGINE_SOURCE_DSN": "postgresql://u@127.0.0.1:1/app",
            "ENGINE_STATE_DSN": "",
            "ENGINE_CONNECT_RETRIES": "0",
            "ENGINE_CONFIG": "",
        },
    )
    assert result.exit_code == 2, result.output
    assert "ENGINE_CADENCE_MODE" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_remote_cadence_without_a_url_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cadence_url"):
        resolve(env={"ENGINE_CADENCE_MODE": "remote"}, project_dir=tmp_path)
    url = "http://localhost:3002"
    assert (
        resolve(env={"ENGINE_CADENCE_MODE": "remote", "ENGINE_CADENCE_URL": url}, project_dir=tmp_path).cadence_url
        == url
    )


def test_file_errors_point_at_the_key_in_engine_yaml(tmp_path: Path) -> None:
    (tmp_path / "engine.yaml").write_text(
        "pool_size: 4\nprofiles:\n  prod:\n    timezone: UTC\n    cadence_mode: bogus\n"
    )
    with pytest.raises(ConfigError) as caught:
        resolve(env={}, project_dir=tmp_path, profile="prod")
    location = caught.value.location
    assert location is not None and (location.line, location.col) == (5, 19)
    assert location.key_path == "profiles.prod.cadence_mode" and "'bogus'" in caught.value.message
    (tmp_path / "engine.yaml").write_text("timezone: UTC\npool_sise: 4\n")
    with pytest.raises(ConfigError) as caught:
        resolve(env={}, project_dir=tmp_path)
    assert caught.value.location is not None and caught.value.location.line == 2
    assert "pool_size" in (caught.value.hint or "")  # did you mean


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("ENGINE_STATE_DSN", "postgresql://u:te-S3cr3t@127.0.0.1/db?badopt=1"),
        ("ENGINE_SOURCE_DSN", "host=127.0.0.1 password=te-S3cr3t badopt=1"),
        ("ENGINE_ALERT_WEBHOOK_URL", "hooks.example/te-S3cr3t"),
    ],
)
def test_a_secret_never_appears_in_a_settings_error(var: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(env={var: value}, project_dir=tmp_path)
    assert var in str(caught.value) and "S3cr3t" not in str(caught.value) + repr(caught.value)
    (tmp_path / "engine.yaml").write_text(f"{var.removeprefix('ENGINE_').lower()}: '{value}'\n")
    with pytest.raises(ConfigError) as caught:
        resolve(env={}, project_dir=tmp_path)
    assert caught.value.location is not None and "S3cr3t" not in str(caught.value)


def test_env_vars_name_every_readable_setting() -> None:
    # declared once, on the field: the map the docs and errors use is derived from it
    assert ENV_VARS["statement_timeout_s"] == "ENGINE_STATEMENT_TIMEOUT"
    assert ENV_VARS["cadence_timeout_s"] == "ENGINE_CADENCE_TIMEOUT"
    assert "throwaway_source" not in ENV_VARS and "test_users" not in ENV_VARS and len(ENV_VARS) == 37
