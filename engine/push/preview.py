"""See a push before it is sent: rendered samples of one template, PII masked, and the rows that would render badly.

``engine send --dry-run`` and the run report both show this, computed here once so what the
analyst reads is what the send would do: a row is judged by the same ``render`` the send plans
with, on its real values; only the displayed sample is rendered again with the PII columns
masked (any case, non-empty cells only: the run report's masking).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

from engine.push.template import PushTemplate, missing_columns, render

MASK = "•••"
DEFAULT_SAMPLES = 3  # rendered pushes shown per template (send --dry-run --samples, the run report)
EXAMPLES = 3  # user ids shown per kind of bad row


@dataclass(frozen=True)
class PushSample:
    user_id: str
    title: str
    body: str
    deep_link: str | None


@dataclass(frozen=True)
class BadRows:
    """Rows a send would skip for one reason (``missing_value:x``: ``[[var:x]]`` empty or not a column)."""

    reason: str
    count: int
    examples: tuple[str, ...]  # user ids


@dataclass(frozen=True)
class PushPreview:
    template: str | None
    rows: int
    samples: tuple[PushSample, ...]
    bad: tuple[BadRows, ...]
    masked: tuple[str, ...]  # columns whose values the samples show as MASK

    @property
    def bad_total(self) -> int:
        return sum(b.count for b in self.bad)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask(values: Mapping[str, str | None], pii: Iterable[str]) -> dict[str, str | None]:
    """``values`` with every non-empty cell of a PII column (any case) replaced by MASK."""
    names = {p.lower() for p in pii}
    return {k: MASK if k.lower() in names and v else v for k, v in values.items()}


def preview(
    template: PushTemplate,
    rows: Iterable[tuple[str, Mapping[str, str | None]]],
    *,
    header: Sequence[str],
    samples: int,
    pii: Iterable[str],
    allowed_hosts: Sequence[str],
) -> PushPreview:
    """The first ``samples`` rows that render, and every reason a row would not, over (user id, values) rows."""
    pii = tuple(pii)
    absent = missing_columns(template, header)
    shown: list[PushSample] = []
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    total = 0
    for user_id, values in rows:
        total += 1
        reason = f"missing_value:{absent[0]}" if absent else render(template, values, allowed_hosts)[1]
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
            if len(ids := examples.setdefault(reason, [])) < EXAMPLES:
                ids.append(user_id)
        elif len(shown) < samples:
            push, _ = render(template, mask(values, pii), allowed_hosts)
            if push is not None:
                shown.append(PushSample(user_id, push.title, push.body, push.link))
    pii_names = {p.lower() for p in pii}
    return PushPreview(
        template=template.name,
        rows=total,
        samples=tuple(shown),
        bad=tuple(
            BadRows(reason, n, tuple(examples[reason]))
            for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        masked=tuple(name for name in template.variables() if name.lower() in pii_names),
    )
