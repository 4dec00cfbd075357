"""Built-in cadence: every rule for the whole audience in one SQL statement on the state database."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources

import psycopg

from engine.cadence.model import Exclusion
from engine.cadence.rules import Rule
from engine.cadence.userids import Audience
from engine.db import translate_query_error
from engine.errors import NotMigrated

_SQL = resources.files("engine.cadence").joinpath("filter.sql").read_text(encoding="utf-8")


def query_params(keys: tuple[str, ...], rules: tuple[Rule, ...], as_of: datetime, *,
                 live: bool = False) -> dict[str, object]:
    """Bind values for filter.sql: the audience and the rules as parallel arrays.

    ``live``: everything recorded counts, even what is stamped a moment after ``as_of`` (a push
    committed by another process between this send's clock reading and its query).
    """
    since = [as_of - timedelta(hours=rule.window_hours) for rule in rules]
    pairs = [(ord_, layer) for ord_, rule in enumerate(rules) for layer in rule.counts_layers]
    return {
        "user_ids": list(dict.fromkeys(keys)),   # unique: filter.sql relies on it
        "rule_ord": list(range(len(rules))),
        "rule_since": since,
        "rule_max": [rule.max_count for rule in rules],
        "rl_ord": [p[0] for p in pairs],
        "rl_layer": [p[1] for p in pairs],
        "as_of": None if live else as_of,
        "horizon": min(since),
    }


def evaluate(conn: psycopg.Connection, audience: Audience, rules: tuple[Rule, ...],
             as_of: datetime, *, live: bool = False) -> tuple[dict[str, list[str]], list[Exclusion]]:
    """Exclusions per rule (every checked rule listed, in order) and per user, in audience order."""
    excluded: dict[str, list[str]] = {rule.name: [] for rule in rules}
    if not rules or not audience.ids:
        return excluded, []
    try:
        rows = conn.execute(_SQL, query_params(audience.keys, rules, as_of, live=live)).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as err:
        raise NotMigrated("the state database is not migrated (no engine.user_notifications table)") from err
    except psycopg.Error as err:
        raise translate_query_error(err, what="cadence check") from err
    verdicts = {row[0]: row[1:] for row in rows}
    exclusions: list[Exclusion] = []
    for user_id, key in zip(audience.ids, audience.keys):
        verdict = verdicts.get(key)
        if verdict is None:
            continue
        rule_ord, pushes, last_sent_at = verdict
        excluded[rules[rule_ord].name].append(user_id)
        exclusions.append(Exclusion(user_id, rules[rule_ord].name, int(pushes), last_sent_at))
    return excluded, exclusions
