"""Atomic file writes: a temp file in the same folder, fsync, then rename; durable once the folder is synced.

A file is written under a temp name, its data fsynced, then renamed onto its final name: a reader (or a
crash) sees the whole old file or the whole new one, never a half-written file under the final name.
The rename itself lives in the folder: until the folder is fsynced (``sync_dir``) a crash may forget it.
A run folder pays that once (engine.pipeline): every output is written and renamed as above, the folder
is fsynced once, and only then is manifest.json written the same way and the folder fsynced again. The
manifest is the commit point: delivery trusts a file only through the manifest's sha256, so after a
crash a folder either has no manifest (the run is not there) or one whose every file survived whole.
``make_dir`` fsyncs the parent of each folder it creates, so the run folder's own name survives too.

Every file gets the mode an ordinary ``open()`` would give (0666 less the umask), whoever wrote
the temp file: ``mkstemp`` creates 0600, DuckDB's COPY 0644, and a run folder's CSVs, TEST CSVs
and manifest must not differ.

A temp file is named ``.<file>.<host>.<pid>.<random>.tmp``: the output folder may be shared by
replicas on several hosts, and a pid only says whether a writer lives on the host that started it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import socket
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

log = logging.getLogger("engine.outputs")

# ".<file>.<host>.<pid>.<random>.tmp" (host: letters, digits, '-'); before host tags ".<file>.<pid>.<random>.tmp",
# which the first pattern reads with the file's extension as the host: never this host's tag, so judged by age
_TEMP = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
_OLD_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
# A temp file untouched this long is a dead writer's, whoever wrote it (see _stale)
STALE_AFTER_S = 86_400
_HOST_TAG_MAX = 24  # with a 200-byte file name, pid and random part the temp name stays under NAME_MAX (255)


@lru_cache(maxsize=1)
def host_tag() -> str:
    """This host's name as temp files carry it: letters, digits and '-', at most 24 characters.

    A name that had to be changed or cut (``ip-10-0-0-7.ec2.internal``) ends in a short hash of
    the whole name, so two hosts do not share a tag.
    """
    name = socket.gethostname() or "localhost"
    tag = re.sub(r"[^A-Za-z0-9-]", "-", name)
    if tag != name or len(tag) > _HOST_TAG_MAX:
        tag = f"{tag[: _HOST_TAG_MAX - 7]}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"
    return tag


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


def sync_dir(folder: Path) -> None:
    """fsync ``folder`` itself: the names created, renamed or removed in it survive a crash.

    Where a folder cannot be opened (Windows) or the file system does not sync folders, renames are as
    durable as the system makes them without it.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except PermissionError:
        if os.name == "nt":  # pragma: no cover - Windows opens no folder
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def make_dir(folder: Path) -> None:
    """``folder.mkdir(parents=True, exist_ok=True)``; the parent of each folder created is fsynced (``sync_dir``)."""
    missing = [folder, *folder.parents]
    missing = [f for f in reversed(missing) if not f.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for created in missing:
        sync_dir(created.parent)


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
    return f".{path.name}.{host_tag()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _stale(name: str, path: Path, now: float) -> bool:
    """Whether the writer of temp file ``name`` is surely gone.

    This host's file: its pid no longer runs. Another host's, or an old name without a host: its
    pid means nothing here, so only age tells, and the bar is high. A writer keeps its temp file's
    mtime fresh while it writes, and the file exists only while one output is written (DuckDB's
    COPY or one ``write_atomic``: seconds to minutes, from rows already fetched); clocks of hosts
    sharing a folder may differ by minutes. A day without a write is far beyond all of that, while
    still clearing a killed replica's leftovers before they pile up. The same age also clears a
    file of this host whose pid was reused by another process.
    """
    match = _TEMP.match(name)
    if match is None and _OLD_TEMP.match(name) is None:
        return False  # not the engine's temp-name shape: not ours to remove
    try:
        stat = path.stat()
    except OSError:
        return False
    if not S_ISREG(stat.st_mode):
        return False
    if now - stat.st_mtime > STALE_AFTER_S:
        return True
    return match is not None and match["host"] == host_tag() and not _alive(int(match["pid"]))


def remove_stale_temps(root: Path, *, depth: int = 2) -> list[Path]:
    """Delete hidden temp files that a killed run left under ``root`` (its run folders, ``depth`` levels down).

    Only files whose writer is surely gone are removed (``_stale``: a dead pid of this host, or
    untouched for ``STALE_AFTER_S``), so a concurrent run's temp files stay, on this host or
    another sharing the folder; a file that cannot be removed is logged and left.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now = time.time()
    for candidate in root.glob("/".join(["*"] * depth + [".*.tmp"])):
        if not _stale(candidate.name, candidate, now):
            continue
        try:
            candidate.unlink()
        except OSError as err:
            log.warning("stale temp file not removed", extra={"path": str(candidate), "error": str(err)})
            continue
        removed.append(candidate)
        log.info("stale temp file removed", extra={"path": str(candidate)})
    return removed
