"""Map a character of a rendered query back to the ``.sql`` line (template or macro) it came from.

Jinja keeps no line map, and block tags, macros and includes shift lines, so the line is found
by the offending name: the source line holding it that best matches the rendered line.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Callable, Iterator

from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import SourceLocation
from engine.render.env import make_environment
from engine.render.model import RenderedQuery

_NAME_AT = re.compile(r'"[^"]*"|[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*')


def template_sources(env: SandboxedEnvironment, template: str) -> Iterator[tuple[str, list[str]]]:
    """(display path, lines) of the template and every template it imports or includes."""
    seen: set[str] = set()
    todo = [template]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        try:
            source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
            todo.extend(t for t in meta.find_referenced_templates(env.parse(source)) if isinstance(t, str))
        except Exception:
            continue
        yield f"sql/{name}", source.splitlines()


def locate(env: SandboxedEnvironment, template: str, sql: str, offset: int) -> tuple[str, int | None, int | None]:
    """The source (file, line, col) of character ``offset`` of the rendered ``sql``."""
    line_start = sql.rfind("\n", 0, offset) + 1
    line_end = sql.find("\n", offset)
    rendered_line = sql[line_start : line_end if line_end >= 0 else len(sql)].strip()
    match = _NAME_AT.match(sql, offset)
    token = match.group(0) if match else sql[offset : offset + 1]
    sources = list(template_sources(env, template))
    # `u.deleted` may be written `{{ alias }}.deleted` in a macro: then look for its last part
    for candidate in dict.fromkeys([token, token.rsplit(".", 1)[-1]]):
        if not candidate.strip():
            continue
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(candidate)}(?![A-Za-z0-9_])")
        best: tuple[float, str, int, int] | None = None
        for display, lines in sources:
            for number, line in enumerate(lines, start=1):
                for hit in pattern.finditer(line):
                    score = difflib.SequenceMatcher(None, line.strip(), rendered_line).ratio()
                    if best is None or score > best[0]:
                        best = (score, display, number, hit.start() + 1)
        if best is not None:
            return best[1], best[2], best[3]
    # no name to anchor on: the source line most like the rendered one
    best_line: tuple[float, str, int] | None = None
    for display, lines in sources:
        for number, line in enumerate(lines, start=1):
            score = difflib.SequenceMatcher(None, line.strip(), rendered_line).ratio()
            if line.strip() and (best_line is None or score > best_line[0]):
                best_line = (score, display, number)
    if best_line is not None and best_line[0] > 0.5:
        return best_line[1], best_line[2], None
    return f"sql/{template}", None, None


def locator(sql_root: Path) -> Callable[[RenderedQuery, int], SourceLocation]:
    """A function placing an offset of a rendered query at its ``.sql`` file, line and column."""
    env = make_environment(sql_root)

    def place(rendered: RenderedQuery, offset: int) -> SourceLocation:
        path, line, col = locate(env, rendered.origin.removeprefix("sql/"), rendered.sql, offset)
        return SourceLocation(path, line, col)

    return place
