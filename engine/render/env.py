"""The Jinja environment for audience SQL and the translation of Jinja errors.

Values never reach the SQL text: each param and bound array is a ``Placeholder`` that
renders as ``%(name)s`` and is passed to psycopg separately. Only ``options`` (structural
constants from the YAML) and macros shape the text. The environment is sandboxed and
undefined names are errors that name the SQL file and line.
"""

from __future__ import annotations

import hashlib
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from engine.documents import read_text
from engine.errors import RenderError, SourceLocation
from engine.render.model import RenderedQuery
from engine.templatecache import bytecode_cache


class Placeholder:
    """Renders as a psycopg named placeholder and records that it was used."""

    def __init__(self, name: str, used: set[str]) -> None:
        self._name = name
        self._used = used

    def __str__(self) -> str:
        self._used.add(self._name)
        return f"%({self._name})s"

    __html__ = __str__

    def __repr__(self) -> str:
        return f"<bound parameter {self._name}>"

    def __bool__(self) -> bool:
        raise RenderError(
            f"bound parameter {self._name!r} used in a Jinja condition",
            hint="Jinja decides structure only: branch on `options`, not on values",
        )

    __eq__ = __lt__ = __gt__ = __le__ = __ge__ = __bool__  # type: ignore[assignment]
    __hash__ = object.__hash__


class _SqlLoader(jinja2.FileSystemLoader):
    """Jinja's file loader, except that a file that is not UTF-8 is a located error, not a traceback."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError:
            read_text(Path(self.searchpath[0]) / template, f"sql/{template}", error=RenderError)
            raise


MAX_TEXT = 1_000_000  # characters one Jinja expression may build (`'x' * n`, `s + t`)
MAX_EXPONENT = 256  # `a ** b`: beyond this a number is a resource bomb, not SQL structure


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (ranges capped at 100,000 items) plus bounded repetition and powers."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > MAX_TEXT:
                    raise SecurityError(f"repeating a value {count} times builds more than {MAX_TEXT:,} items")
        elif operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_EXPONENT} is refused")
        elif (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, type(left))
            and len(left) + len(right) > MAX_TEXT
        ):
            raise SecurityError(f"joining values builds more than {MAX_TEXT:,} items")
        return super().call_binop(context, operator, left, right)


# compiled templates are cached between processes; the code depends on which operators the
# sandbox intercepts, so they name the cache folder
_INTERCEPTED = " ".join(sorted(BoundedSandbox.intercepted_binops))
_CACHE_KIND = "sql-templates-" + hashlib.sha1(_INTERCEPTED.encode()).hexdigest()[:8]


def make_environment(sql_root: Path) -> SandboxedEnvironment:
    """A sandboxed Jinja environment rooted at the project's sql/ folder."""
    env = BoundedSandbox(
        loader=_SqlLoader(str(sql_root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=bytecode_cache(_CACHE_KIND),
    )
    return env


def _template_line(err: BaseException, template_name: str) -> tuple[str, int | None]:
    """The innermost template frame (file, line) of a runtime Jinja error."""
    best: tuple[str, int | None] = (template_name, None)
    for frame in traceback.extract_tb(sys.exc_info()[2] or err.__traceback__):
        filename = frame.filename.replace("\\", "/")
        if filename.endswith(".sql"):
            best = (filename, frame.lineno)
    return best


def _display(filename: str, sql_root: Path) -> str:
    path = Path(filename)
    try:
        return "sql/" + str(path.resolve().relative_to(sql_root.resolve()))
    except ValueError:
        return filename if filename.startswith("sql/") else f"sql/{filename}"


def render_sql(
    env: SandboxedEnvironment,
    sql_root: Path,
    *,
    name: str,
    template: str,
    values: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
) -> RenderedQuery:
    """Render ``template`` (path under sql/) with ``values`` bound and ``options`` structural."""
    used: set[str] = set()
    context: dict[str, Any] = {key: Placeholder(key, used) for key in values}
    context["options"] = dict(options or {})
    try:
        text = env.get_template(template).render(context)
    except jinja2.TemplateNotFound as err:
        raise RenderError(
            f"SQL template not found: sql/{err.name}",
            location=SourceLocation(f"sql/{template}"),
            hint="paths (also in {% import %}/{% include %}) are relative to sql/",
        ) from None
    except jinja2.TemplateSyntaxError as err:
        raise RenderError(
            f"Jinja syntax error: {err.message}",
            location=SourceLocation(_display(err.filename or template, sql_root), err.lineno),
            hint="check the {% %} / {{ }} tags on this line",
        ) from None
    except jinja2.UndefinedError as err:
        filename, line = _template_line(err, template)
        raise RenderError(
            f"undefined variable in template: {err.message}",
            location=SourceLocation(_display(filename, sql_root), line),
            hint=f"declare it as a param in the audience YAML; available: "
            f"{', '.join(sorted(values)) or 'none'} (and options)",
        ) from None
    except RenderError as err:
        if err.location is None:  # raised by a helper while rendering: point at the template line
            filename, line = _template_line(err, template)
            err.location = SourceLocation(_display(filename, sql_root), line)
        raise
    except jinja2.TemplateError as err:
        filename, line = _template_line(err, template)
        raise RenderError(
            f"template error: {err}", location=SourceLocation(_display(filename, sql_root), line)
        ) from None
    except (OverflowError, MemoryError, RecursionError) as err:
        filename, line = _template_line(err, template)
        raise RenderError(
            f"template builds too much: {type(err).__name__}: {str(err)[:200]}",
            location=SourceLocation(_display(filename, sql_root), line),
            hint=f"Jinja shapes the SQL; ranges stay under 100,000 items and text under {MAX_TEXT:,} characters",
        ) from None
    sql = text.strip().rstrip(";").rstrip()
    params = {key: values[key] for key in sorted(used)}
    return RenderedQuery(name=name, sql=sql, params=params, origin=f"sql/{template}")
