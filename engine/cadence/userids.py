"""Audience ids for cadence: UUID validation (reported, not silently dropped) and CSV reading."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from engine.errors import ConfigError, SourceLocation

# Canonical 8-4-4-4-12 hex, any version: the state table stores uuid, and production ids are
# plain UUIDs. (The original service also rejected versions 6-8 and the nil UUID, silently.)
_UUID = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")

# The original send-push reader's id column preference, first present wins.
ID_COLUMNS = ("user_id", "userId", "id", "User ID", "ID", "user", "User")


@dataclass(frozen=True)
class Audience:
    """Unique valid ids in input order (as given, and as canonical lower-case keys), plus the invalid ones."""

    ids: tuple[str, ...]
    keys: tuple[str, ...]  # what PostgreSQL prints for the uuid: the id, lower-cased
    invalid: tuple[str, ...]


def split_user_ids(user_ids: Iterable[object]) -> Audience:
    """Validate and de-duplicate ids; anything not a canonical UUID string goes to ``invalid``."""
    ids: list[str] = []
    keys: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for raw in user_ids:
        text = raw if isinstance(raw, str) else repr(raw)
        if text in seen:
            continue
        seen.add(text)
        if isinstance(raw, str) and _UUID.match(raw):
            ids.append(raw)
            keys.append(raw.lower())
        else:
            invalid.append(text)
    return Audience(tuple(ids), tuple(keys), tuple(invalid))


def read_user_ids_csv(path: Path) -> list[str]:
    """User ids from a CSV (header row; id column as the original chose it), trimmed, blanks dropped."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            column = next((name for name in ID_COLUMNS if name in header), None)
            if column is None:
                raise ConfigError(
                    f"no user id column in {path.name}",
                    location=SourceLocation(str(path), 1),
                    hint=f"name one column {' or '.join(ID_COLUMNS[:3])}; found: {', '.join(header)}",
                )
            return [value.strip() for row in reader if (value := row.get(column) or "").strip()]
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from err
    except (UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(
            f"{path.name} is not a readable UTF-8 CSV: {err}", location=SourceLocation(str(path))
        ) from err
