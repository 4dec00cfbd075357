"""Output file names are names: a pattern expands to one plain file inside the run folder.

``file: {product_id:.8}_{timestamp}.csv`` takes params, so a value is attacker-controlled text.
The pattern may only name fields (no ``{x.attr}`` / ``{x[0]}`` lookups, no conversions, small
widths), and the result must be a plain, visible, short file name: no separators, ``..``,
NUL or control characters. Checked for every output and TEST file before any query runs.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Mapping

from engine.errors import EngineError, SourceLocation

MAX_NAME_BYTES = 200
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPEC = re.compile(r"[^{}]{0,12}")
_WIDTH = re.compile(r"\d{4,}")


class FileNameError(EngineError):
    """An output file name pattern, or a value put into it, does not give a plain file name."""

    exit_code = 2


def expand(pattern: str, values: Mapping[str, Any]) -> str:
    """``pattern`` with each ``{field[:spec]}`` replaced; only plain fields of ``values``."""
    out: list[str] = []
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as err:
        raise FileNameError(f"file name pattern {pattern!r}: {err}") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if (
            not _FIELD.fullmatch(field)
            or conversion
            or not _SPEC.fullmatch(spec or "")
            or _WIDTH.search(spec or "")
            or "{" in (spec or "")
        ):
            raise FileNameError(
                f"file name pattern {pattern!r}: {{{field}}} may only name a param "
                "(optionally with a short format such as :.8)"
            )
        if field not in values:
            raise FileNameError(
                f"file name pattern {pattern!r} names {field!r}, which is neither "
                f"timestamp nor a param (params: {', '.join(sorted(values)) or 'none'})"
            )
        try:
            out.append(format(values[field], spec or ""))
        except (ValueError, TypeError) as err:
            raise FileNameError(f"file name pattern {pattern!r}: {{{field}:{spec}}}: {err}") from None
    return "".join(out)


def check_name(name: str) -> str | None:
    """Why ``name`` is not a plain file name, or None when it is one."""
    if not name:
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if name in {".", ".."} or ".." in name:
        return "it contains '..'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains NUL or a control character"
    if name.startswith("."):
        return "it would be a hidden file"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def under_root(root: Path, name: str, *, what: str) -> Path:
    """``root / name`` for a ``name`` given by a person (``--history NAME``): one plain name, or FileNameError.

    Every command writing under the output root goes through a check like this one, so nothing
    it is told can put a file elsewhere (``../../x``, an absolute path, a hidden or too long name).
    """
    problem = check_name(name)
    if problem is None and (root / name).resolve().parent != root.resolve():
        problem = "it resolves outside the output folder"
    if problem is not None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise FileNameError(
            f"{what} {shown!r} is refused: {problem}",
            hint=f"{what} is one plain name (an audience or automation) under the output folder",
        )
    return root / name


def safe_file_name(
    pattern: str,
    stamp: str,
    params: Mapping[str, Any],
    *,
    run_dir: Path | None = None,
    location: SourceLocation | None = None,
) -> str:
    """Expand ``pattern`` and prove the result is a plain file name (inside ``run_dir`` when given)."""
    try:
        name = expand(pattern, {**params, "timestamp": stamp})
    except FileNameError as err:
        err.location = location
        raise
    problem = check_name(name)
    if problem is None and run_dir is not None:
        resolved = (run_dir / name).resolve()
        if resolved.parent != run_dir.resolve():
            problem = "it resolves outside the run folder"
    if problem is not None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise FileNameError(
            f"file name {shown!r} (from {pattern!r}) is refused: {problem}",
            location=location,
            hint="a file name is one plain name in the run folder: check the --var / schedule "
            "value used in it, or the file: pattern",
        )
    return name


def check_output_names(spec: Any, stamp: str, params: Mapping[str, Any], run_dir: Path) -> None:
    """Every output and TEST file name of ``spec`` for these params; the first bad one raises.

    Names must also differ from each other (ignoring letter case, as macOS and Windows disks do):
    a TEST file named like its production file, by the YAML or by a ``--var`` put into a pattern,
    would replace the production CSV with the one-row TEST CSV.
    """
    shown = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()}
    taken: dict[str, str] = {}
    for output in spec.outputs:
        patterns = [("file", output.file, f"the file of output {output.name!r}")]
        if output.test:
            patterns.append(("test.file", output.test.file, f"the TEST file of output {output.name!r}"))
        for key, pattern, label in patterns:
            location = SourceLocation(spec.display_path, key_path=f"outputs.{output.name}.{key}")
            name = safe_file_name(pattern, stamp, shown, run_dir=run_dir, location=location)
            other = taken.setdefault(name.casefold(), label)
            if other != label:
                raise FileNameError(
                    f"{label} would be named {name!r} (from {pattern!r}), like {other}: it would replace that file",
                    location=location,
                    hint="every output and TEST file needs its own name: check the --var / "
                    "schedule value used in it, or the file: pattern",
                )
