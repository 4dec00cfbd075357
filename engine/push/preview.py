"""See a push before it is sent: rendered samples of one template, PII masked, and the rows that would render badly.

``engine send --dry-run`` and the run report both show this, computed here once so what the
analyst reads is what the send would do: a row is judged by the rules of the ``render`` the send
plans with, on its real values (``_Judge``: the same reasons in the same order, without rendering
every row: the run report previews every row of outputs with hundreds of thousands); only the
displayed sample is rendered, with the PII columns masked (any case, non-empty cells only: the run
report's masking). tests/unit/test_preview_fast.py holds the render-every-row reference it matches.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

from engine.push.template import VARIABLE, PushTemplate, link_problem, missing_columns, render

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
    variables = template.variables()
    items = ((user_id, tuple(map(values.get, variables))) for user_id, values in rows)
    return _preview(template, items, header=header, samples=samples, pii=pii, allowed_hosts=allowed_hosts)


def preview_columns(
    template: PushTemplate,
    user_ids: Sequence[str],
    columns: Mapping[str, Sequence[str | None]],
    *,
    header: Sequence[str],
    samples: int,
    pii: Iterable[str],
    allowed_hosts: Sequence[str],
) -> PushPreview:
    """``preview`` over rows given by column: row i is ``user_ids[i]`` with ``columns[name][i]`` for each name.

    ``columns`` needs only the template's variables (engine.delivery.recipients.read_recipient_columns).
    """
    variables = template.variables()
    if missing_columns(template, header) or not variables:
        items: Iterable[tuple[str, tuple[str | None, ...]]] = ((user_id, ()) for user_id in user_ids)
    else:
        items = zip(user_ids, zip(*(columns[name] for name in variables), strict=True), strict=True)
    return _preview(template, items, header=header, samples=samples, pii=pii, allowed_hosts=allowed_hosts)


# A deep link's static start that fixes its scheme and host, all link_problem reads: "scheme://authority"
# then "/", "?" or "#". urlsplit takes the scheme up to the first ":" and the authority up to the next
# "/", "?" or "#"; a value is URL-encoded (letters, digits, "_.-~" and %XX), so a value after that start only
# ever changes the path, query or fragment.
_FIXED_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*[/?#]")


class _Judge:
    """Why a row would render badly, as ``render`` says, without rendering it.

    A row is (value of each of ``template.variables()``, in that order). ``render``'s reasons, in its order:
    the first variable whose value is None or blank; a title or body that holds ``[[var:`` once rendered,
    which needs a ``[`` in the template's own text or in a value (only then is the row rendered); a deep
    link ``link_problem`` refuses, which depends only on the values of the link's variables (one verdict
    per distinct tuple of them).
    """

    def __init__(self, template: PushTemplate, allowed_hosts: Sequence[str]) -> None:
        self.template = template
        self.allowed_hosts = allowed_hosts
        self.variables = template.variables()
        texts = (template.title, template.body)
        self.static_bracket = any("[" in piece for text in texts for piece in VARIABLE.split(text)[::2])
        positions = {name: i for i, name in enumerate(self.variables)}
        link = template.deep_link or ""
        link_positions = [positions[name] for name in VARIABLE.findall(link)]
        if _FIXED_ORIGIN.match(VARIABLE.split(link)[0]):
            link_positions = []  # the values are all in the path, query or fragment: one verdict for every row
        self.link_key: Callable[[tuple[str | None, ...]], object] = (
            itemgetter(*link_positions) if link_positions else (lambda values: ())
        )
        self.link_bad: dict[object, bool] = {}

    def reason(self, values: tuple[str | None, ...]) -> str | None:
        if not (all(values) and all(map(str.strip, values))):  # type: ignore[arg-type]  # all(values): no None
            for name, value in zip(self.variables, values, strict=True):
                if value is None or not value.strip():
                    return f"missing_value:{name}"
        if self.static_bracket or "[" in "".join(values):  # type: ignore[arg-type]  # no None here
            row = dict(zip(self.variables, values, strict=True))
            texts = (self.template.title, self.template.body)
            if any("[[var:" in VARIABLE.sub(lambda m: row[m.group(1)] or "", text) for text in texts):
                return "literal_placeholder"  # a value itself held "[[var:"; never send that
        if self.template.deep_link:
            key = self.link_key(values)
            bad = self.link_bad.get(key)
            if bad is None:
                bad = self.link_bad[key] = self._link_bad(values)
            if bad:
                return "deep_link_host"
        return None

    def _link_bad(self, values: tuple[str | None, ...]) -> bool:
        row = dict(zip(self.variables, values, strict=True))
        link = VARIABLE.sub(lambda m: quote(row[m.group(1)] or "", safe=""), self.template.deep_link or "")
        return bool(link and link_problem(link, self.allowed_hosts))


def _preview(
    template: PushTemplate,
    rows: Iterable[tuple[str, tuple[str | None, ...]]],
    *,
    header: Sequence[str],
    samples: int,
    pii: Iterable[str],
    allowed_hosts: Sequence[str],
) -> PushPreview:
    """``preview`` over (user id, the row's value of each of ``template.variables()``) rows."""
    pii = tuple(pii)
    absent = missing_columns(template, header)
    variables = template.variables()
    judge = _Judge(template, allowed_hosts)
    verdicts: dict[tuple[str | None, ...], str | None] = {}  # rows repeat values: judged once per distinct row
    shown: list[PushSample] = []
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    total = 0
    for user_id, values in rows:
        total += 1
        if absent:
            reason: str | None = f"missing_value:{absent[0]}"
        else:
            try:
                reason = verdicts[values]
            except KeyError:
                reason = verdicts[values] = judge.reason(values)
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
            if len(ids := examples.setdefault(reason, [])) < EXAMPLES:
                ids.append(user_id)
        elif len(shown) < samples:
            # render reads only the template's variables: the row's other columns cannot change the sample
            push, _ = render(template, mask(dict(zip(variables, values, strict=True)), pii), allowed_hosts)
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
