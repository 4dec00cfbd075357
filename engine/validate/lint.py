"""sqlfluff over the project's SQL, with the project's ``.sqlfluff``, findings at source lines.

One ``Linter`` (config built once per process for a given project config and context) lints
every file in one pass. sqlfluff's Jinja templater maps each problem back to the line and
column of the source file. The Jinja context is the project's own (every param and bound array
the audiences declare, each standing as ``1``), layered over the
``[sqlfluff:templater:jinja:context]`` of ``.sqlfluff`` so a new param needs no config edit;
``options`` is replaced by ``EveryOption``, under which every ``'x' in options.y`` test holds,
so every Jinja-gated branch is linted whichever options the audiences happen to use.

Macro files render to nothing, so sqlfluff alone would never look inside a macro: each macro
body is also linted on its own (its ``{% macro %}`` tags blanked to same-length comments, so
lines and columns stay those of the file; an expression macro is read as ``select <body>``).

sqlfluff is the slow part (~0.1 s a file), so results are kept per target (``resultcache``),
keyed by a hash of everything that decides them (sqlfluff version, config, context, the text
and the templates it imports); what must be linted is split with a forked second process when
the machine has a second core.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from engine.documents import read_text
from engine.errors import EngineError
from engine.validate.findings import Findings
from engine.validate.resultcache import Miss, ResultCache, library_version

CONFIG_FILE = ".sqlfluff"
CACHE_VERSION = "2"  # bump when what is linted, or how, changes (a stale cache would lie)
_MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(([^)]*)\)\s*-?%\}(.*?)\{%-?\s*endmacro\s*-?%\}", re.S)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_REFERENCE = re.compile(r"\{%-?\s*(?:import|include|from)\s+['\"]([^'\"]+)['\"]")


@dataclass(frozen=True)
class LintProblem:
    """One sqlfluff finding, plain data (cached between runs, passed between processes)."""

    code: str
    description: str
    line: int
    col: int
    warning: bool
    fixable: bool
    rule_name: str


@dataclass(frozen=True)
class LintTarget:
    """One text to lint: a SQL file, or one macro of a macro file (``lines`` limits what is kept)."""

    path: Path
    text: str
    lines: range | None = None
    shift: tuple[tuple[int, int], ...] = ()  # (line, columns removed by dedenting) to add back
    fragment: bool = False  # a macro body linted inside a made-up ``select``


# A fragment's table aliases come from its caller's FROM clause (checked when the caller is linted)
FRAGMENT_EXEMPT = {"RF01"}


def _comment_of(length: int, prefix: str = "") -> str:
    return prefix + "{#" + " " * (length - len(prefix) - 4) + "#}"


def macro_targets(path: Path, text: str) -> Iterator[LintTarget]:
    """One harness per macro: the file with that macro's tags turned into comments, body dedented."""
    for match in _MACRO.finditer(text):
        body_start, body_end = match.start(3), match.end(3)
        open_tag = text[match.start() : body_start]
        close_tag = text[body_end : match.end()]
        body = _COMMENT.sub("", match.group(3)).strip()
        statement = body.split(None, 1)[0].lower() if body else ""
        wrap = statement not in ("select", "with", "(")
        open_repl = _comment_of(len(open_tag), "select " if wrap else "")
        first_line = text.count("\n", 0, body_start) + 1
        lines = match.group(3).split("\n")
        shift: list[tuple[int, int]] = []
        if not wrap:
            indents = [len(ln) - len(ln.lstrip(" ")) for ln in lines[1:] if ln.strip()]
            cut = min(indents, default=0)
            if cut:
                lines = [lines[0]] + [ln[min(cut, len(ln) - len(ln.lstrip(" "))) :] for ln in lines[1:]]
                shift = [(first_line + k, cut) for k in range(1, len(lines))]
        harness = (
            text[: match.start()] + open_repl + "\n".join(lines) + _comment_of(len(close_tag)) + text[match.end() :]
        )
        last_line = first_line + match.group(3).count("\n")
        body_first = first_line + (1 if match.group(3).startswith("\n") else 0)  # not the tag's own line
        yield LintTarget(path, harness, range(body_first, last_line + 1), tuple(shift), fragment=wrap)


def is_macro_file(text: str) -> bool:
    """True when the file only defines macros (nothing of it renders by itself)."""
    return bool(_MACRO.search(text)) and not _COMMENT.sub("", _MACRO.sub("", text)).strip()


def macro_arguments(text: str) -> set[str]:
    """Names of every macro argument in ``text`` (in the harness each stands as its own name)."""
    names = set()
    for match in _MACRO.finditer(text):
        for arg in match.group(2).split(","):
            if arg.strip():
                names.add(arg.split("=")[0].strip())
    return names


class EveryOption:
    """``options`` while linting: every attribute is itself, every ``in`` test true, so every branch renders."""

    def __getattr__(self, name: str) -> "EveryOption":
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> "EveryOption":
        return self

    def __contains__(self, item: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[object]:
        return iter(())

    def __str__(self) -> str:
        return "1"


@lru_cache(maxsize=8)
def _linter(project_dir: str, config_text: str, context_json: str) -> Any:
    """A Linter for the project's config with ``context`` layered over its Jinja context."""
    from sqlfluff.core import FluffConfig, Linter  # noqa: PLC0415  (heavy: only when something needs linting)

    config_path = Path(project_dir) / CONFIG_FILE
    # undefined names render as themselves: whether they are declared is the render check's business
    overrides: dict[str, Any] = {"ignore": "templating"}
    if config_text:  # only the project's file: no home or working-directory config leaks in
        config = FluffConfig.from_path(
            project_dir, extra_config_path=str(config_path), ignore_local_config=True, overrides=overrides
        )
    else:
        config = FluffConfig.from_path(
            project_dir, ignore_local_config=True, overrides={**overrides, "dialect": "postgres", "templater": "jinja"}
        )
        config.set_value(["templater", "jinja", "loader_search_path"], str(Path(project_dir) / "sql"))
    for key, value in json.loads(context_json).items():
        config.set_value(["templater", "jinja", "context", key], repr(value))  # read back by literal_eval
    # set directly: set_value only takes text, and sqlfluff's literal_eval leaves objects as they are
    config.get_section(("templater", "jinja", "context"))["options"] = EveryOption()
    return Linter(config=config)


def lint_context(values: Mapping[str, Any]) -> str:
    """The context as canonical JSON (part of the Linter cache key)."""
    return json.dumps(dict(sorted(values.items())), sort_keys=True, default=str)


def lint_target(linter: Any, target: LintTarget) -> list[LintProblem]:
    """sqlfluff's findings for one target, at the line and column of the source file."""
    linted = linter.lint_string(target.text, fname=str(target.path))
    shift = dict(target.shift)
    problems = []
    for violation in linted.get_violations():
        line, col = violation.line_no, violation.line_pos
        if target.lines is not None and line not in target.lines:
            continue
        rule = getattr(violation, "rule", None)
        problems.append(
            LintProblem(
                violation.rule_code(),
                violation.desc(),
                line,
                col + shift.get(line, 0),
                bool(getattr(violation, "warning", False)),
                bool(getattr(violation, "fixes", None)),
                rule.name if rule is not None else "",
            )
        )
    return problems


_WORKER: dict[str, Any] = {}


def _lint_in_worker(targets: list[LintTarget]) -> list[list[LintProblem]]:
    return [lint_target(_WORKER["linter"], target) for target in targets]


def _lint_all(linter: Any, targets: list[LintTarget]) -> list[list[LintProblem]]:
    """Lint every target; with several and a second core, half of them in a forked process."""
    if len(targets) < 4 or (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [lint_target(linter, target) for target in targets]
    order = sorted(range(len(targets)), key=lambda i: -len(targets[i].text))
    mine, theirs = order[0::2], order[1::2]
    # the first file warms sqlfluff up (dialect, rules) before the fork, so the worker starts warm
    results: dict[int, list[LintProblem]] = {mine[0]: lint_target(linter, targets[mine[0]])}
    _WORKER["linter"] = linter  # inherited by the forked worker: nothing is pickled but the targets
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(_lint_in_worker, [targets[i] for i in theirs])
        for i in mine[1:]:
            results[i] = lint_target(linter, targets[i])
        results.update(zip(theirs, future.result()))
    return [results[i] for i in range(len(targets))]


def _references(project_dir: Path, text: str, seen: set[str]) -> Iterator[str]:
    """Contents of every template ``text`` imports or includes, recursively (they change the lint)."""
    for name in _REFERENCE.findall(text):
        if name in seen:
            continue
        seen.add(name)
        path = project_dir / "sql" / name
        content = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        yield name + "\0" + content
        yield from _references(project_dir, content, seen)


def _cache_key(cache: ResultCache, project_dir: Path, target: LintTarget, config_text: str, context_json: str) -> str:
    relative = target.path.relative_to(project_dir) if target.path.is_relative_to(project_dir) else target.path
    return cache.key(
        CACHE_VERSION,
        library_version("sqlfluff"),
        config_text,
        context_json,
        str(relative),
        target.text,
        repr(target.lines),
        repr(target.shift),
        *_references(project_dir, target.text, set()),
    )


def _decode_problems(stored: list[dict[str, Any]]) -> list[LintProblem]:
    return [LintProblem(**item) for item in stored]


# sqlfluff rules about how SQL looks, not what it means: warnings unless --strict. Everything else
# (parse and template errors, ambiguous or unknown references, duplicate aliases) stays an error.
STYLE_PREFIXES = ("LT", "CP", "CV", "JJ", "ST", "AL")
NOT_STYLE = {"AL04", "AL08"}  # duplicate table / column aliases: the query means something else


def is_style_rule(code: str) -> bool:
    """Whether a sqlfluff rule code is about layout or naming style only."""
    return code.startswith(STYLE_PREFIXES) and code not in NOT_STYLE


def lint_files(
    findings: Findings,
    project_dir: Path,
    files: list[Path],
    context: Mapping[str, Any],
    *,
    rendered_files: set[Path],
    cache_dir: Path | None = None,
    strict: bool = False,
) -> None:
    """Lint ``files`` in one pass; template errors of files the render check covers are left to it.

    Style-only rules are warnings unless ``strict``."""
    config_path = project_dir / CONFIG_FILE
    config_text = config_path.read_text(encoding="utf-8") if config_path.is_file() else ""
    if not config_text:
        findings.add(
            "lint/no-config",
            "no .sqlfluff at the project root: linting with sqlfluff's defaults (postgres, jinja)",
            path=CONFIG_FILE,
            severity="warning",
            hint="add a .sqlfluff so the lint policy is the project's, not the tool's",
        )
    texts: dict[Path, str] = {}
    for path in files:
        try:
            texts[path] = read_text(path, findings.relative(str(path)), error=EngineError)
        except EngineError as err:
            findings.add_error(err, "sql/encoding", default_path=findings.relative(str(path)))
    names = dict(context)
    for text in texts.values():
        names.update({arg: arg for arg in macro_arguments(text) if arg not in names})  # `alias.col` stays SQL
    context_json = lint_context(names)
    targets = [
        t
        for path, text in texts.items()
        for t in (macro_targets(path, text) if is_macro_file(text) else [LintTarget(path, text)])
    ]
    cache = ResultCache(cache_dir, "lint")
    keys = [_cache_key(cache, project_dir, t, config_text, context_json) for t in targets]
    stored = [cache.get(key, _decode_problems) for key in keys]
    results = {i: found for i, found in enumerate(stored) if not isinstance(found, Miss)}
    missing = [i for i in range(len(targets)) if i not in results]
    if missing:
        fresh = _lint_all(_linter(str(project_dir), config_text, context_json), [targets[i] for i in missing])
        for i, problems in zip(missing, fresh):
            results[i] = problems
            cache.put(keys[i], [asdict(p) for p in problems])
    for i, target in enumerate(targets):
        for problem in results[i]:
            if problem.code == "TMP" and target.path in rendered_files:
                continue
            if target.fragment and problem.code in FRAGMENT_EXEMPT:
                continue
            hint = f"sqlfluff rule {problem.rule_name or problem.code}"
            if problem.fixable:
                hint += f"; `sqlfluff fix {findings.relative(str(target.path))}` can fix it"
            findings.add(
                f"lint/{problem.code}",
                problem.description,
                path=str(target.path),
                line=problem.line,
                col=problem.col,
                hint=hint,
                severity="warning" if problem.warning or (is_style_rule(problem.code) and not strict) else "error",
            )
