"""Cadence: never over-message a user.

``filter_audience`` decides, for a whole audience at once, who may receive a live push
of a layer at ``as_of``; every excluded user is attributed to the rule that excluded them.
Rules are data (``cadence.yaml``, overridable per automation); the built-in mode checks them
in one SQL statement against ``engine.user_notifications`` (through ``engine.state.cadence``, the
tables' one owner), the remote mode asks the original push-cadence-service. ``record_sent`` and
``record_in_doubt`` (built-in) and ``track_remote`` (remote) record pushes after a live send.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Sequence

import psycopg

from engine.cadence.automation import effective_config, frozen_config
from engine.cadence.builtin import evaluate
from engine.cadence.model import CadenceDecision, Exclusion, SentPush
from engine.cadence.remote import (
    REMOTE_RULE,
    TrackReport,
    remote_decision,
    track_remote,
)
from engine.cadence.rules import CadenceConfig, Layer, Rule
from engine.cadence.tracking import record_in_doubt, record_sent
from engine.cadence.userids import Audience, split_user_ids
from engine.config import Settings
from engine.db import connect
from engine.errors import ConfigError

__all__ = [
    "CadenceConfig",
    "CadenceDecision",
    "Exclusion",
    "Layer",
    "REMOTE_RULE",
    "Rule",
    "SentPush",
    "TrackReport",
    "effective_config",
    "filter_audience",
    "frozen_config",
    "record_in_doubt",
    "record_sent",
    "track_remote",
]

log = logging.getLogger("engine.cadence")
MODES = ("builtin", "remote")


def filter_audience(
    settings: Settings,
    user_ids: Sequence[str],
    layer_id: int | str,
    as_of: datetime,
    *,
    state_conn: psycopg.Connection | None = None,
    automation: str | None = None,
    config: CadenceConfig | None = None,
    live: bool = False,
) -> CadenceDecision:
    """Who among ``user_ids`` may get a live push of ``layer_id`` (id or name) at ``as_of``.

    Ids are de-duplicated (first occurrence order kept); ids that are not UUIDs are excluded
    and listed in ``invalid_ids``. Exempt (layer 1) and bypass (layer 4, test) layers let every
    valid id through without any check. Built-in mode runs on ``state_conn`` when given (inside
    the caller's transaction), else on a short connection to the state DSN. ``config``
    replaces the project's rules (``automation`` is then ignored). Remote mode fails open
    (``failed_open=True``, a warning) when the service cannot answer, or raises DeliveryError
    when ``settings.cadence_fail_open`` is false. ``live`` (a real send, ``as_of`` read from the
    database clock under the cadence lock) counts every recorded push, even one stamped just after
    ``as_of`` by another process.
    """
    if as_of.tzinfo is None:
        raise ConfigError("cadence as_of must be timezone-aware", hint="use engine.timeutil.parse_as_of")
    if settings.cadence_mode not in MODES:
        raise ConfigError(f"unknown cadence_mode {settings.cadence_mode!r}", hint=f"use one of: {', '.join(MODES)}")
    config = config or effective_config(settings.project_dir, automation)
    layer = config.layer(layer_id)
    audience = split_user_ids(user_ids)
    warnings = [f"{len(audience.invalid)} id(s) are not valid UUIDs and were excluded"] if audience.invalid else []
    if layer.cadence != "apply":
        decision = CadenceDecision(eligible=list(audience.ids), mode=layer.cadence, layer_id=layer.id)
    elif settings.cadence_mode == "remote":
        decision = remote_decision(settings, audience, layer.id)
        if config.override:
            warnings.append(
                f"{config.override} overrides cadence rules, but the remote service applies "
                "its own rules: the overrides are ignored"
            )
    else:
        decision = _builtin_decision(settings, audience, layer, config.rules_for(layer), as_of, state_conn, live)
    decision = replace(decision, invalid_ids=list(audience.invalid), warnings=warnings + decision.warnings)
    log.info(
        "cadence layer %s (%s): %d eligible, %d excluded, %d invalid",
        layer.id,
        decision.mode,
        len(decision.eligible),
        decision.excluded_count,
        len(decision.invalid_ids),
        extra={"cadence_excluded": {k: len(v) for k, v in decision.excluded.items()}},
    )
    return decision


def _builtin_decision(
    settings: Settings,
    audience: Audience,
    layer: Layer,
    rules: tuple[Rule, ...],
    as_of: datetime,
    state_conn: psycopg.Connection | None,
    live: bool,
) -> CadenceDecision:
    if not rules or not audience.ids:
        excluded: dict[str, list[str]] = {rule.name: [] for rule in rules}
        exclusions: list[Exclusion] = []
    elif state_conn is not None:
        excluded, exclusions = evaluate(state_conn, audience, rules, as_of, live=live)
    else:
        with connect(settings.require_state_dsn(), retries=settings.connect_retries, autocommit=True) as conn:
            excluded, exclusions = evaluate(conn, audience, rules, as_of, live=live)
    blocked = {exclusion.user_id for exclusion in exclusions}
    return CadenceDecision(
        eligible=[uid for uid in audience.ids if uid not in blocked],
        excluded=excluded,
        mode="builtin",
        layer_id=layer.id,
        exclusions=exclusions,
        rules={rule.name: _describe(rule) for rule in rules},
    )


def _describe(rule: Rule) -> dict[str, object]:
    """A rule as a manifest records it."""
    return {
        "counts_layers": list(rule.counts_layers),
        "window_hours": rule.window_hours,
        "max_count": rule.max_count,
        "applies_to": "all" if rule.applies_to is None else list(rule.applies_to),
    }
