"""Answers of content-determined checks, kept between ``engine validate`` runs as JSON files.

sqlfluff on a file, sqlglot's columns of a query, Jinja's undeclared names of a template, a
document passing its JSON Schema: each answer depends only on some text and the code that
reads it, so it is worth computing once per content, not once per run. Each answer is a file
named by a hash of everything that decides it (the check's own version, library versions, the
text), so an edit or an upgrade simply misses and nothing is ever invalidated. A cache that
cannot be read or written, or holds a corrupt entry, only costs time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypeVar

from engine.outputs.atomic import write_atomic

T = TypeVar("T")


class Miss:
    """What ``ResultCache.get`` returns for an absent or unreadable entry (a stored answer may be ``null``)."""


MISS = Miss()


def default_cache_dir() -> Path:
    """Where answers are kept between runs (the system's temporary folder)."""
    return Path(tempfile.gettempdir()) / "audience-engine" / "lint-cache"


@lru_cache(maxsize=None)
def library_version(distribution: str) -> str:
    """A key part; read once per process (importlib.metadata reads the distribution's files at every call)."""
    return importlib.metadata.version(distribution)


def _same(value: Any) -> Any:
    return value


def _is_true(value: Any) -> bool:
    return value is True


class ResultCache:
    """JSON answers of one ``kind`` of check in ``folder/kind/<hash>.json``; ``folder`` None keeps nothing."""

    def __init__(self, folder: Path | None, kind: str) -> None:
        self.folder = folder / kind if folder is not None else None
        self.kind = kind

    def key(self, *parts: str) -> str:
        """The hash of ``parts`` (each length-prefixed, so no two lists of parts share a key)."""
        digest = hashlib.sha256(self.kind.encode())
        for part in parts:
            data = part.encode("utf-8", "surrogatepass")
            digest.update(b"%d:" % len(data) + data)
        return digest.hexdigest()

    def get(self, key: str, decode: Callable[[Any], T]) -> T | Miss:
        """The stored answer, through ``decode`` (which raises on what it cannot read), or ``MISS``."""
        if self.folder is None:
            return MISS
        try:
            return decode(json.loads((self.folder / f"{key}.json").read_bytes()))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return MISS

    def put(self, key: str, value: Any) -> None:
        """Store a JSON-able answer."""
        if self.folder is not None:
            try:
                write_atomic(self.folder / f"{key}.json", json.dumps(value).encode())
            except OSError:
                pass

    def remember(
        self,
        key: str,
        compute: Callable[[], T],
        *,
        encode: Callable[[T], Any] = _same,
        decode: Callable[[Any], T] = _same,
    ) -> T:
        """The stored answer for ``key``, else ``compute()``'s, stored (exceptions are not)."""
        found = self.get(key, decode)
        if not isinstance(found, Miss):
            return found
        value = compute()
        self.put(key, encode(value))
        return value


class KnownGood:
    """Keys of inputs known to pass a check: this run's in memory, earlier runs' in a ``ResultCache``.

    ``parts`` (versions of what decides the check) join every key."""

    def __init__(self, folder: Path | None, kind: str, *parts: str) -> None:
        self._cache = ResultCache(folder, kind)
        self._parts = parts
        self._seen: set[str] = set()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key in self._seen:
            return True
        if self._cache.get(self._cache.key(*self._parts, key), _is_true) is True:
            self._seen.add(key)
            return True
        return False

    def add(self, key: str) -> None:
        """Remember that the input of ``key`` passed."""
        if key not in self._seen:
            self._seen.add(key)
            self._cache.put(self._cache.key(*self._parts, key), True)
