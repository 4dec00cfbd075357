"""``--select`` expressions: audience names, ``layer:N`` and ``tag:T``."""

from __future__ import annotations

import difflib
from typing import Iterable, Protocol, Sequence, TypeVar

from engine.errors import ConfigError


class Selectable(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def layer(self) -> int | None: ...

    @property
    def tags(self) -> Iterable[str]: ...


T = TypeVar("T", bound=Selectable)


def select_audiences(items: Sequence[T], selectors: Sequence[str], *, hint: str = "see `engine list`") -> list[T]:
    """The items (specs, or validate's file entries) matching any selector, in order; all when none."""
    if not selectors:
        return list(items)
    chosen: list[T] = []
    for selector in selectors:
        kind, sep, value = selector.partition(":")
        if sep and kind == "layer":
            if not value.isdigit():
                raise ConfigError(f"--select {selector!r}: layer must be a number")
            matches = [i for i in items if i.layer == int(value)]
        elif sep and kind == "tag":
            matches = [i for i in items if value in i.tags]
        else:
            matches = [i for i in items if i.name == selector]
            if not matches:
                close = difflib.get_close_matches(selector, [i.name for i in items], n=1)
                raise ConfigError(
                    f"no audience named {selector!r}", hint=f"did you mean {close[0]!r}?" if close else hint
                )
        chosen.extend(m for m in matches if m not in chosen)
    if not chosen:
        raise ConfigError(f"--select {' '.join(selectors)} matches no audience", hint=hint)
    return chosen
