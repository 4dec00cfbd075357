"""The ledger a dry run uses when no state database is configured (``engine send --dry-run`` needs none).

Analyst-workflow addition (issue 16), kept apart from the real ledger: it knows no earlier send,
no dead token and has no connection, so cadence is not checked either; the dry-run report says so.
"""

from __future__ import annotations

from typing import Iterable

from engine.delivery.model import Send

NOT_CHECKED = (
    "no state database (ENGINE_STATE_DSN): cadence limits, earlier runs of this send and dead "
    "tokens were not checked; a real send checks them"
)


class NoStateLedger:
    """Answers a dry run's questions to the ledger as an empty ledger would."""

    conn = None

    def find(self, send_id: str) -> Send | None:
        return None

    def dead_tokens(self, tokens: Iterable[str]) -> dict[str, str]:
        return {}

    def close(self) -> None:
        return None
