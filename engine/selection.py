"""``--select`` expressions: audience names, ``layer:N`` and ``tag:T``."""

from __future__ import annotations

import difflib
from typing import Sequence

from engine.errors import ConfigError
from engine.spec.model import AudienceSpec


def select_audiences(specs: Sequence[AudienceSpec], selectors: Sequence[str]) -> list[AudienceSpec]:
    """The specs matching any selector (all when none), in project order."""
    if not selectors:
        return list(specs)
    chosen: list[AudienceSpec] = []
    for selector in selectors:
        kind, sep, value = selector.partition(":")
        if sep and kind == "layer":
            if not value.isdigit():
                raise ConfigError(f"--select {selector!r}: layer must be a number")
            matches = [s for s in specs if s.layer == int(value)]
        elif sep and kind == "tag":
            matches = [s for s in specs if value in s.tags]
        else:
            matches = [s for s in specs if s.name == selector]
            if not matches:
                close = difflib.get_close_matches(selector, [s.name for s in specs], n=1)
                raise ConfigError(f"no audience named {selector!r}",
                                  hint=f"did you mean {close[0]!r}?" if close else "see `engine list`")
        chosen.extend(m for m in matches if m not in chosen)
    if not chosen:
        raise ConfigError(f"--select {' '.join(selectors)} matches no audience", hint="see `engine list`")
    return chosen
