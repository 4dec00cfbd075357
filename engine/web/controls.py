"""The operator page's actions: each one is an ``engine.api`` call of the scheduler (pause, resume,
cancel, trigger in test mode). Checked against the bearer token before anything runs."""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

from engine import api
from engine.config import Settings
from engine.errors import EngineError


class Action(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    TRIGGER_TEST = "trigger-test"

    @property
    def collection(self) -> str:
        """What the action's URL names its target in: ``/api/runs/<id>/cancel``, ``/api/automations/<id>/pause``."""
        return "runs" if self is Action.CANCEL else "automations"

    @classmethod
    def at(cls, collection: str, name: str) -> Action | None:
        """The action a POST to ``/api/<collection>/<target>/<name>`` asks for, None when there is none."""
        try:
            action = cls(name)
        except ValueError:
            return None
        return action if action.collection == collection else None


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str
    result: Any = None


def authorised(settings: Settings, header: str | None) -> bool:
    """``Authorization: Bearer <serve_token>``; with no token configured every action is refused."""
    if not settings.serve_token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), settings.serve_token.encode())


def perform(settings: Settings, action: Action, target: str) -> Outcome:
    """Run one action; an EngineError (unknown automation, cancel too late) is a 409 with its message."""
    try:
        result = _CALLS[action](settings, target)
    except EngineError as err:
        return Outcome(409, err.message)
    return Outcome(200, f"{action.value} {target}: done", result)


_CALLS: dict[Action, Callable[[Settings, str], Any]] = {
    Action.PAUSE: api.pause_automation,
    Action.RESUME: api.resume_automation,
    Action.CANCEL: api.cancel_run,
    Action.TRIGGER_TEST: functools.partial(api.trigger_automation, test=True),
}
