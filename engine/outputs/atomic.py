"""Atomic file writes: a temp file in the same folder, fsync, then rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; return its sha256. A crash leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside ``path`` for a file another writer (DuckDB) produces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def commit_file(tmp: Path, path: Path) -> str:
    """fsync a finished temp file, rename it onto ``path`` and return its sha256."""
    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return digest.hexdigest()
