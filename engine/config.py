"""The single settings resolver.

Precedence, highest first: CLI flags > environment variables > profile file
(``engine.yaml`` in the project root, or the file named by ``ENGINE_CONFIG``;
a ``profiles:`` section is selected with ``--profile``/``ENGINE_PROFILE``) >
defaults. No other module reads environment variables or the config file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from engine.documents import load
from engine.errors import ConfigError, SourceLocation

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

# setting name -> environment variable
ENV_VARS: dict[str, str] = {
    "source_dsn": "ENGINE_SOURCE_DSN",
    "allow_privileged_source": "ENGINE_ALLOW_PRIVILEGED_SOURCE",
    "state_dsn": "ENGINE_STATE_DSN",
    "output_dir": "ENGINE_OUTPUT_DIR",
    "fcm_credentials": "ENGINE_FCM_CREDENTIALS",
    "fcm_endpoint": "ENGINE_FCM_ENDPOINT",
    "pool_size": "ENGINE_POOL_SIZE",
    "parallel_audiences": "ENGINE_PARALLEL_AUDIENCES",
    "parallel_queries": "ENGINE_PARALLEL_QUERIES",
    "lint_cache_dir": "ENGINE_LINT_CACHE_DIR",
    "statement_timeout_s": "ENGINE_STATEMENT_TIMEOUT",
    "connect_retries": "ENGINE_CONNECT_RETRIES",
    "timezone": "ENGINE_TIMEZONE",
    "fcm_concurrency": "ENGINE_FCM_CONCURRENCY",
    "fcm_rate_per_minute": "ENGINE_FCM_RATE_PER_MINUTE",
    "send_shards": "ENGINE_SEND_SHARDS",
    "send_shard_rows": "ENGINE_SEND_SHARD_ROWS",
    "cadence_mode": "ENGINE_CADENCE_MODE",
    "cadence_url": "ENGINE_CADENCE_URL",
    "cadence_fail_open": "ENGINE_CADENCE_FAIL_OPEN",
    "cadence_timeout_s": "ENGINE_CADENCE_TIMEOUT",
    "cadence_retries": "ENGINE_CADENCE_RETRIES",
    "log_format": "ENGINE_LOG_FORMAT",
    "test_layer": "ENGINE_TEST_LAYER",
    "test_dsn": "ENGINE_TEST_DSN",
    "report_sample_rows": "ENGINE_REPORT_SAMPLE_ROWS",
    "report_pii_columns": "ENGINE_REPORT_PII_COLUMNS",
    "report_size_jump_pct": "ENGINE_REPORT_SIZE_JUMP_PCT",
    "report_threshold_drop_pct": "ENGINE_REPORT_THRESHOLD_DROP_PCT",
    "alert_webhook_url": "ENGINE_ALERT_WEBHOOK_URL",
    "alert_fcm_error_rate_pct": "ENGINE_ALERT_FCM_ERROR_RATE_PCT",
    "serve_host": "ENGINE_SERVE_HOST",
    "serve_port": "ENGINE_SERVE_PORT",
    "serve_allowed_hosts": "ENGINE_SERVE_ALLOWED_HOSTS",
    "scheduler_serve_port": "ENGINE_SCHEDULER_SERVE_PORT",
    "serve_token": "ENGINE_SERVE_TOKEN",
}


@dataclass(frozen=True)
class Settings:
    """Every runtime setting, resolved once. Frozen: pass it around, never mutate."""

    project_dir: Path = field(default_factory=Path.cwd)
    source_dsn: str | None = None
    # `engine scheduler` and live sends accept a source role that can write or reach server files (README: Security
    # model); without it they refuse one, and every other command warns once
    allow_privileged_source: bool = False
    # set in code only, never from the environment or a file: the source is a throwaway database the engine created
    # itself (`engine test`, `engine demo`), so its role is not checked
    throwaway_source: bool = False
    state_dsn: str | None = None
    output_dir: Path | None = None
    fcm_credentials: Path | None = None
    fcm_endpoint: str = DEFAULT_FCM_ENDPOINT
    pool_size: int = 10
    parallel_audiences: int = 2          # audiences of one `engine run` computed at once (within the pool)
    # independent queries of one audience run at once on one shared snapshot (within the pool); 1: one after
    # the other. Layer 3 on 2 cores, 1 vs 2 interleaved: 3.35 vs 3.08 s at 300k users, 10.07 vs 9.75 s at 1M
    parallel_queries: int = 4
    lint_cache_dir: Path | None = None   # `engine validate`'s answers by content hash (None: temp folder)
    statement_timeout_s: float = 300.0
    connect_retries: int = 3
    timezone: str = "UTC"
    fcm_concurrency: int = 64
    fcm_rate_per_minute: int = 300_000
    send_shards: int = 1                 # the scheduler splits a live send into at most this many parallel jobs
    send_shard_rows: int = 50_000        # ... one per this many ledger rows (a smaller send is not split)
    deep_link_hosts: tuple[str, ...] = ("tradeblock.us",)
    cadence_mode: str = "builtin"
    cadence_url: str | None = None
    cadence_fail_open: bool = True
    cadence_timeout_s: float = 10.0      # per HTTP request to the remote cadence service
    cadence_retries: int = 2             # extra attempts after a failed request (remote mode)
    test_users: tuple[dict[str, str], ...] = (FOUNDER,)
    test_layer: int = 4                  # the notification layer TEST sends are recorded under (the original's)
    log_format: str = "auto"
    # server where `engine test` creates (and drops) its throwaway databases; never the app database
    test_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # observability: run reports, alerts and the operator page (README "Configuration")
    report_sample_rows: int = 20
    report_pii_columns: tuple[str, ...] = ("username", "firstName", "first_name", "email", "token")
    report_size_jump_pct: float = 50.0       # warn when the audience differs this much from the last runs' median
    report_threshold_drop_pct: float = 50.0  # warn when one threshold removes more than this share
    alert_webhook_url: str | None = None     # Slack-compatible incoming webhook; unset: no alerts
    alert_fcm_error_rate_pct: float = 5.0    # alert (and warn in the report) above this FCM failure share
    serve_host: str = "127.0.0.1"
    serve_port: int = 8765
    # Host header names the page answers (any port); empty: the bound address, localhost, 127.0.0.1 and [::1]
    serve_allowed_hosts: tuple[str, ...] = ()
    scheduler_serve_port: int | None = None  # `engine scheduler` hosts the operator page here; unset: no page
    serve_token: str | None = None           # bearer token for pause/resume/cancel/trigger; unset: refused

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


_INT_FIELDS = {"pool_size", "parallel_audiences", "parallel_queries", "connect_retries", "fcm_concurrency",
               "fcm_rate_per_minute", "send_shards", "send_shard_rows",
               "cadence_retries", "test_layer", "report_sample_rows", "serve_port", "scheduler_serve_port"}
_FLOAT_FIELDS = {"statement_timeout_s", "cadence_timeout_s", "report_size_jump_pct", "report_threshold_drop_pct",
                 "alert_fcm_error_rate_pct"}
_PATH_FIELDS = {"output_dir", "fcm_credentials", "project_dir", "lint_cache_dir"}
_BOOL_FIELDS = {"cadence_fail_open", "allow_privileged_source"}
_TUPLE_FIELDS = {"deep_link_hosts", "test_users", "report_pii_columns", "serve_allowed_hosts"}
_CODE_ONLY = {"throwaway_source"}      # fields no file or variable may set


# (lowest, highest) accepted; a value outside is a ConfigError naming the setting and where it came from
_BOUNDS: dict[str, tuple[float, float]] = {
    "pool_size": (1, 100), "parallel_audiences": (1, 32), "parallel_queries": (1, 32), "connect_retries": (0, 20),
    "fcm_concurrency": (1, 1000),
    "fcm_rate_per_minute": (1, 10_000_000), "cadence_retries": (0, 20),
    "send_shards": (1, 256), "send_shard_rows": (1, 100_000_000),
    "statement_timeout_s": (0.001, 7 * 86400), "cadence_timeout_s": (0.001, 3600),
    "scheduler_serve_port": (0, 65535),
}
_ZERO_MEANS_NONE = {"statement_timeout_s"}   # 0 (exactly) switches the timeout off


def _checked(name: str, value: float, origin: str) -> float:
    low, high = _BOUNDS[name]
    if not math.isfinite(value) or (not low <= value <= high and not (value == 0 and name in _ZERO_MEANS_NONE)):
        var = ENV_VARS.get(name, name)
        zero = " (or exactly 0 for none)" if name in _ZERO_MEANS_NONE else ""
        raise ConfigError(f"invalid value for {name} ({var}) from {origin}: {value!r} is outside "
                          f"{low:g}..{high:g}{zero}",
                          hint=f"set {var} to a number in {low:g}..{high:g}{zero}")
    return value


def _coerce_checked(name: str, value: Any, origin: str) -> Any:
    out = _coerce(name, value, origin)
    if name in _BOUNDS and out is not None:
        return _checked(name, out, origin)
    return out


def _coerce(name: str, value: Any, origin: str) -> Any:
    if value is None:
        return None
    try:
        if name in _INT_FIELDS:
            return int(value)
        if name in _FLOAT_FIELDS:
            return float(value)
        if name in _PATH_FIELDS:
            return Path(value).expanduser()
        if name in _BOOL_FIELDS:
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in {"1", "true", "yes", "on"}
        if name in _TUPLE_FIELDS:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid value for {name} from {origin}: {value!r}",
                          hint=f"set {ENV_VARS.get(name, name)} to a valid value") from None
    return value


def _read_profile(path: Path, profile: str | None) -> dict[str, Any]:
    data = load(path, str(path), error=ConfigError, empty_ok=True).data or {}
    if not isinstance(data, dict):
        raise ConfigError("the config file must be a mapping", location=SourceLocation(str(path), 1))
    data = dict(data)  # the parsed document is shared while the file is unchanged: never edit it
    profiles = data.pop("profiles", {}) or {}
    if profile:
        if profile not in profiles:
            raise ConfigError(f"profile {profile!r} not found in {path}",
                              hint=f"known profiles: {', '.join(sorted(profiles)) or 'none'}")
        data.update(profiles[profile])
    known = {f.name for f in fields(Settings)} - _CODE_ONLY
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}",
                          hint=f"known settings: {', '.join(sorted(known))}")
    return data


def resolve(flags: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
            project_dir: Path | None = None, profile: str | None = None) -> Settings:
    """Resolve settings: flags > env > profile file > defaults. ``None`` flags are ignored."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    root = Path(flags.pop("project_dir", None) or project_dir or env.get("ENGINE_PROJECT_DIR") or Path.cwd())
    values: dict[str, Any] = {}
    config_path = Path(env["ENGINE_CONFIG"]) if env.get("ENGINE_CONFIG") else root / "engine.yaml"
    profile = profile or env.get("ENGINE_PROFILE")
    if config_path.exists():
        for key, value in _read_profile(config_path, profile).items():
            values[key] = _coerce_checked(key, value, str(config_path))
    elif env.get("ENGINE_CONFIG"):
        raise ConfigError(f"config file not found: {config_path}", hint="check ENGINE_CONFIG")
    for name, var in ENV_VARS.items():
        if env.get(var):
            values[name] = _coerce_checked(name, env[var], var)
    for name, value in flags.items():
        values[name] = _coerce_checked(name, value, f"--{name.replace('_', '-')}")
    values["project_dir"] = root.resolve()
    settings = Settings(**values)
    if settings.output_dir is not None and not settings.output_dir.is_absolute():
        settings = replace(settings, output_dir=(root / settings.output_dir).resolve())
    return settings
