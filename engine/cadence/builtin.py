"""Built-in cadence: every rule for the whole audience in one SQL statement on the state database."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from engine.cadence.model import Exclusion
from engine.cadence.rules import Rule
from engine.cadence.userids import Audience
from engine.state import cadence as history


def windows(rules: tuple[Rule, ...], as_of: datetime) -> list[history.Window]:
    """Each rule as the window the check counts: its layers' pushes in the ``window_hours`` before ``as_of``."""
    return [
        history.Window(
            since=as_of - timedelta(hours=rule.window_hours), max_count=rule.max_count, layers=rule.counts_layers
        )
        for rule in rules
    ]


def evaluate(
    conn: psycopg.Connection, audience: Audience, rules: tuple[Rule, ...], as_of: datetime, *, live: bool = False
) -> tuple[dict[str, list[str]], list[Exclusion]]:
    """Exclusions per rule (every checked rule listed, in order) and per user, in audience order.

    ``live``: everything recorded counts, even what is stamped a moment after ``as_of`` (a push
    committed by another process between this send's clock reading and its query).
    """
    excluded: dict[str, list[str]] = {rule.name: [] for rule in rules}
    if not rules or not audience.ids:
        return excluded, []
    keys = list(dict.fromkeys(audience.keys))  # unique: the check relies on it
    blocks = {
        block.user_id: block for block in history.blocked(conn, keys, windows(rules, as_of), None if live else as_of)
    }
    exclusions: list[Exclusion] = []
    for user_id, key in zip(audience.ids, audience.keys):
        block = blocks.get(key)
        if block is None:
            continue
        rule = rules[block.rule_ord]
        excluded[rule.name].append(user_id)
        exclusions.append(Exclusion(user_id, rule.name, block.pushes, block.last_sent_at))
    return excluded, exclusions
