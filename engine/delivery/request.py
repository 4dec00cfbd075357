"""What a caller asks of a send (engine.api.send takes it; light: no FCM client import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from engine.delivery.shard import Shard
from engine.push.arms import HoldoutGroup
from engine.push.preview import DEFAULT_SAMPLES
from engine.push.template import PushTemplate


@dataclass(frozen=True)
class SendRequest:
    """One send: a run folder or CSV plus a named template, or an ad hoc title/body/link/layer.

    ``as_of`` is for dry runs only: a real send evaluates cadence and records its pushes at the
    state database's clock, never at a chosen time. ``max_in_doubt`` bounds the pushes claimed
    and not yet recorded at once (default twice ENGINE_FCM_CONCURRENCY): what a crash can leave
    in doubt. ``shard`` sends one range of an already planned send (engine.delivery.shard).
    ``cadence_override`` is ``automation``'s ``cadence:`` mapping as its run froze it at generate
    (``{}``: none), used instead of the one schedules.yaml has now; None reads it from the file.
    ``holdouts``: the groups held out of a live send of ``automation`` (as its run froze them; None: as
    schedules.yaml declares them now, ``engine.api.send`` fills them in); TEST sends hold out nobody.
    """

    source: Path
    template: str | None = None
    title: str | None = None
    body: str | None = None
    deep_link: str | None = None
    layer: int | None = None
    test: bool = False
    dry_run: bool = False
    limit: int | None = None
    send_id: str | None = None
    as_of: datetime | None = None
    resend_in_flight: bool = False
    automation: str | None = None
    max_in_doubt: int | None = None
    shard: Shard | None = None
    samples: int = DEFAULT_SAMPLES  # a dry run's rendered pushes shown (engine.push.preview)
    push: PushTemplate | None = None  # the named template as an automation run froze it (not re-read from the file)
    cadence_override: Mapping[str, Any] | None = None
    holdouts: tuple[HoldoutGroup, ...] | None = None

    @property
    def adhoc(self) -> bool:
        """An ad hoc push (title/body/link/layer given here) rather than a named template."""
        return any(v is not None for v in (self.title, self.body, self.deep_link, self.layer))
