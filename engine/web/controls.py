"""The operator page's actions: each one is an ``engine.api`` call of the scheduler (pause, resume,
cancel, trigger in test mode). Checked against the bearer token before anything runs."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import Enum
from typing import Any

from engine.config import Settings
from engine.errors import EngineError


class Action(str, Enum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    TRIGGER_TEST = "trigger-test"


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
    from engine import api  # noqa: PLC0415

    name, kwargs = _CALLS[action]
    function = getattr(api, name, None)
    if function is None:
        return Outcome(501, f"{action.value}: the scheduler is not part of this engine")
    try:
        result = function(settings, target, **kwargs)
    except EngineError as err:
        return Outcome(409, err.message)
    return Outcome(200, f"{action.value} {target}: done", result)


_CALLS: dict[Action, tuple[str, dict[str, Any]]] = {
    Action.PAUSE: ("pause_automation", {}),
    Action.RESUME: ("resume_automation", {}),
    Action.CANCEL: ("cancel_run", {}),
    Action.TRIGGER_TEST: ("trigger_automation", {"test": True}),
}
