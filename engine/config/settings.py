"""``Settings``: every setting declared once, with its type, default, bounds and environment variable.

The resolver builds its pydantic-settings model from these declarations (``engine/config/resolver.py``),
so a value from a flag, a variable or engine.yaml is checked against exactly what is written here.
Code builds ``Settings(...)`` and ``dataclasses.replace(settings, ...)`` directly (tests, throwaway
databases): those values are the code's own and are not checked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from engine.config.values import Dsn, Names, Timeout, Url, UserPath, Var, Zone
from engine.errors import ConfigError

DEFAULT_FCM_ENDPOINT = "https://fcm.googleapis.com"

# The original scripts' hard-coded test user, the founder (reference section 2.0): TEST files and
# TEST sends go to him unless engine.yaml lists `test_users`.
FOUNDER: dict[str, str] = {
    "user_id": "0e54067c-4c0e-4e4a-8a23-a47661578059",
    "username": "beems",
    "firstName": "Mbiyimoh",
    "usersize": "13",
    "lastActive": "2025-08-05 20:00:00.000000+00:00",
    "bio": "Founder of Tradeblock",
    "top_target_shoe": 'Air Jordan 1 Retro High OG "Bred Toe"',
    "top_target_shoe_variantid": "sample-variant-id-for-testing",
}


def _in(low: float, high: float) -> object:
    """Accepted values ``low..high`` (inclusive)."""
    return Field(ge=low, le=high)


@dataclass(frozen=True)
class Settings:
    """Every runtime setting, resolved once. Frozen: pass it around, never mutate."""

    # set by --project-dir / ENGINE_PROJECT_DIR (the resolver reads it first: engine.yaml lives there)
    project_dir: Path = field(default_factory=Path.cwd)
    source_dsn: Annotated[Dsn | None, Var("ENGINE_SOURCE_DSN", secret=True)] = None
    # `engine scheduler` and live sends accept a source role that can write or reach server files (README: Security
    # model); without it they refuse one, and every other command warns once
    allow_privileged_source: Annotated[bool, Var("ENGINE_ALLOW_PRIVILEGED_SOURCE")] = False
    # set in code only, never from the environment or a file: the source is a throwaway database the engine created
    # itself (`engine test`, `engine demo`), so its role is not checked
    throwaway_source: bool = False
    state_dsn: Annotated[Dsn | None, Var("ENGINE_STATE_DSN", secret=True)] = None
    output_dir: Annotated[UserPath | None, Var("ENGINE_OUTPUT_DIR")] = None
    fcm_credentials: Annotated[UserPath | None, Var("ENGINE_FCM_CREDENTIALS")] = None
    fcm_endpoint: Annotated[Url, Var("ENGINE_FCM_ENDPOINT")] = DEFAULT_FCM_ENDPOINT
    pool_size: Annotated[int, _in(1, 100), Var("ENGINE_POOL_SIZE")] = 10
    # audiences of one `engine run` computed at once (within the pool)
    parallel_audiences: Annotated[int, _in(1, 32), Var("ENGINE_PARALLEL_AUDIENCES")] = 2
    # independent queries of one audience run at once on one shared snapshot (within the pool); 1: one after
    # the other. Layer 3 on 2 cores, 1 vs 2 interleaved: 3.35 vs 3.08 s at 300k users, 10.07 vs 9.75 s at 1M
    parallel_queries: Annotated[int, _in(1, 32), Var("ENGINE_PARALLEL_QUERIES")] = 4
    # `engine validate`'s answers by content hash (None: temp folder)
    lint_cache_dir: Annotated[UserPath | None, Var("ENGINE_LINT_CACHE_DIR")] = None
    statement_timeout_s: Annotated[Timeout, Var("ENGINE_STATEMENT_TIMEOUT")] = 300.0
    connect_retries: Annotated[int, _in(0, 20), Var("ENGINE_CONNECT_RETRIES")] = 3
    timezone: Annotated[Zone, Var("ENGINE_TIMEZONE")] = "UTC"
    fcm_concurrency: Annotated[int, _in(1, 1000), Var("ENGINE_FCM_CONCURRENCY")] = 64
    fcm_rate_per_minute: Annotated[int, _in(1, 10_000_000), Var("ENGINE_FCM_RATE_PER_MINUTE")] = 300_000
    # the scheduler splits a live send into at most this many parallel jobs ...
    send_shards: Annotated[int, _in(1, 256), Var("ENGINE_SEND_SHARDS")] = 1
    # ... one per this many ledger rows (a smaller send is not split)
    send_shard_rows: Annotated[int, _in(1, 100_000_000), Var("ENGINE_SEND_SHARD_ROWS")] = 50_000
    deep_link_hosts: Annotated[Names, Var(None)] = ("tradeblock.us",)
    cadence_mode: Annotated[Literal["builtin", "remote"], Var("ENGINE_CADENCE_MODE")] = "builtin"
    cadence_url: Annotated[Url | None, Var("ENGINE_CADENCE_URL")] = None
    cadence_fail_open: Annotated[bool, Var("ENGINE_CADENCE_FAIL_OPEN")] = True
    # per HTTP request to the remote cadence service
    cadence_timeout_s: Annotated[float, _in(0.001, 3600), Var("ENGINE_CADENCE_TIMEOUT")] = 10.0
    # extra attempts after a failed request (remote mode)
    cadence_retries: Annotated[int, _in(0, 20), Var("ENGINE_CADENCE_RETRIES")] = 2
    test_users: Annotated[tuple[dict[str, str], ...], Var(None)] = (FOUNDER,)
    # the notification layer TEST sends are recorded under (the original's)
    test_layer: Annotated[int, Var("ENGINE_TEST_LAYER")] = 4
    log_format: Annotated[Literal["auto", "json", "plain"], Var("ENGINE_LOG_FORMAT")] = "auto"
    # database `engine demo` (re)creates (None: audience_engine_demo_<OS user>, so people sharing a server differ)
    demo_database: Annotated[str | None, Var("ENGINE_DEMO_DATABASE")] = None
    # server where `engine test` creates (and drops) its throwaway databases; never the app database
    test_dsn: Annotated[Dsn, Var("ENGINE_TEST_DSN", secret=True)] = "postgresql://postgres@127.0.0.1:5432/postgres"
    # observability: run reports, alerts and the operator page (README "Configuration")
    report_sample_rows: Annotated[int, _in(0, 10_000), Var("ENGINE_REPORT_SAMPLE_ROWS")] = 20
    report_pii_columns: Annotated[Names, Var("ENGINE_REPORT_PII_COLUMNS")] = (
        "username",
        "firstName",
        "first_name",
        "email",
        "token",
    )
    # warn when the audience differs this much from the last runs' median
    report_size_jump_pct: Annotated[float, Field(ge=0), Var("ENGINE_REPORT_SIZE_JUMP_PCT")] = 50.0
    # warn when one threshold removes more than this share
    report_threshold_drop_pct: Annotated[float, Field(ge=0), Var("ENGINE_REPORT_THRESHOLD_DROP_PCT")] = 50.0
    # Slack-compatible incoming webhook (its path is a secret); unset: no alerts
    alert_webhook_url: Annotated[Url | None, Var("ENGINE_ALERT_WEBHOOK_URL", secret=True)] = None
    # alert (and warn in the report) above this FCM failure share
    alert_fcm_error_rate_pct: Annotated[float, Field(ge=0), Var("ENGINE_ALERT_FCM_ERROR_RATE_PCT")] = 5.0
    serve_host: Annotated[str, Var("ENGINE_SERVE_HOST")] = "127.0.0.1"
    serve_port: Annotated[int, _in(0, 65535), Var("ENGINE_SERVE_PORT")] = 8765
    # Host header names the page answers (any port); empty: the bound address, localhost, 127.0.0.1 and [::1]
    serve_allowed_hosts: Annotated[Names, Var("ENGINE_SERVE_ALLOWED_HOSTS")] = ()
    # `engine scheduler` hosts the operator page here; unset: no page
    scheduler_serve_port: Annotated[Annotated[int, _in(0, 65535)] | None, Var("ENGINE_SCHEDULER_SERVE_PORT")] = None
    # bearer token for pause/resume/cancel/trigger; unset: refused
    serve_token: Annotated[str | None, Var("ENGINE_SERVE_TOKEN", secret=True)] = None

    @property
    def resolved_output_dir(self) -> Path:
        """Where run folders go: the configured dir, else ``<project>/output``."""
        return self.output_dir if self.output_dir else self.project_dir / "output"

    def require_source_dsn(self) -> str:
        """The source DSN, or a ConfigError saying how to set it."""
        if not self.source_dsn:
            raise ConfigError(
                "no source database configured",
                hint="set ENGINE_SOURCE_DSN (e.g. postgresql://user@host:5432/tradeblock) or pass --dsn",
            )
        return self.source_dsn

    def require_state_dsn(self) -> str:
        """The state DSN, or a ConfigError saying how to set it."""
        if not self.state_dsn:
            raise ConfigError(
                "no state database configured",
                hint="set ENGINE_STATE_DSN to a writable PostgreSQL database for the engine's own tables",
            )
        return self.state_dsn
