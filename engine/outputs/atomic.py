"""Atomic file writes: a temp file in the same folder, fsync, then rename.

Every file gets the mode an ordinary ``open()`` would give (0666 less the umask), whoever wrote
the temp file: ``mkstemp`` creates 0600, DuckDB's COPY 0644, and a run folder's CSVs, TEST CSVs
and manifest must not differ.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("engine.outputs")

# ".<file>.<pid>.<random>.tmp": the pid lets a later run tell a dead writer's leftovers from a live one's
_TEMP = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


@lru_cache(maxsize=1)
def file_mode() -> int:
    """0666 less the process umask (read once: os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; return its sha256. A crash leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside ``path`` for a file another writer (DuckDB) produces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def commit_file(tmp: Path, path: Path) -> str:
    """fsync a finished temp file, rename it onto ``path`` and return its sha256."""
    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
        os.fsync(handle.fileno())
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)
    return digest.hexdigest()


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by someone else
        return True
    return True


def remove_stale_temps(root: Path, *, depth: int = 2) -> list[Path]:
    """Delete hidden temp files that a killed run left under ``root`` (its run folders, ``depth`` levels down).

    Only files whose writer process is gone are removed (a concurrent run's temp files stay);
    a file that cannot be removed is logged and left.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for candidate in root.glob("/".join(["*"] * depth + [".*.tmp"])):
        match = _TEMP.match(candidate.name)
        if not match or _alive(int(match.group(1))) or not candidate.is_file():
            continue
        try:
            candidate.unlink()
        except OSError as err:
            log.warning("stale temp file not removed", extra={"path": str(candidate), "error": str(err)})
            continue
        removed.append(candidate)
        log.info("stale temp file removed", extra={"path": str(candidate)})
    return removed
