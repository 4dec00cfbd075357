"""What a send reads: a run folder's output (found through manifest.json) or a plain CSV.

The CSV is read whole (its checksum identifies an ad hoc send), parsed as RFC 4180,
and reduced to one row per user: the first row wins, later ones are counted as
duplicates. Rows with an empty id are dropped and counted; ids that are not UUIDs
are counted and never sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from engine.cadence.userids import ID_COLUMNS, split_user_ids
from engine.errors import DeliveryError, SourceLocation
from engine.push.template import PushTemplate, TemplateError
from engine.runs.model import MANIFEST, OutputStatus, read_manifest


class CsvInputError(DeliveryError):
    """The CSV itself is unusable (NUL bytes, not UTF-8, malformed, no id column): fix it, nothing was sent."""

    exit_code = 2


@dataclass(frozen=True)
class Source:
    """The CSV a send reads and, for a run folder, which run and output it came from."""

    csv: Path | None  # None: the output was empty and not written
    run_id: str | None = None
    audience: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class Recipients:
    """One row per user in first-occurrence order, plus what was dropped on the way."""

    sha256: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, dict[str, str | None]], ...]  # (canonical user id, row values)
    total_rows: int
    duplicates: int
    empty_ids: int
    invalid_ids: tuple[str, ...]


def resolve_source(path: Path, template: PushTemplate, *, test: bool) -> Source:
    """A CSV path as is; a run folder via its manifest, the template's output (its TEST twin with ``test``)."""
    if path.is_file():
        return Source(csv=path)
    if not path.is_dir():
        raise DeliveryError(f"no such run folder or CSV: {path}")
    manifest = read_manifest(path)
    where = SourceLocation(str(path / MANIFEST))
    if not template.output:
        raise TemplateError(
            "sending a run folder needs a template that names its output",
            location=template.location,
            hint="use --template NAME (schedules.yaml templates have 'output:'); ad hoc pushes send a CSV file",
        )
    if template.audience and template.audience != manifest.audience:
        raise TemplateError(
            f"template {template.name!r} sends audience {template.audience!r} but "
            f"{path} is a run of {manifest.audience!r}",
            location=template.location,
        )
    entry = manifest.output(template.output, test=test)
    if entry is None:
        known = sorted({o.label for o in manifest.outputs})
        raise DeliveryError(
            f"run has no {'TEST ' if test else ''}output {template.output!r}",
            location=where,
            hint=f"outputs: {', '.join(known) or 'none'}",
        )
    source = Source(csv=None, run_id=manifest.run_id, audience=manifest.audience, output=template.output)
    if entry.status is OutputStatus.EMPTY_NOT_WRITTEN:
        return source
    if entry.status is not OutputStatus.WRITTEN:
        raise DeliveryError(
            f"output {template.output!r} of run {source.run_id} was not written "
            f"(status {entry.status.value!r}): {entry.error or 'see the manifest'}",
            location=where,
        )
    csv_path = path / entry.file
    if entry.sha256 and _sha256(_read(csv_path)) != entry.sha256:
        raise DeliveryError(
            f"{csv_path} does not match the checksum in its manifest",
            hint="the file changed after the run wrote it; re-run the audience",
        )
    return Source(csv=csv_path, run_id=source.run_id, audience=source.audience, output=source.output)


def read_recipients(path: Path) -> Recipients:
    """Parse the CSV; malformed input raises with the line number."""
    data = _read(path)
    if b"\x00" in data:  # Python's csv module reads NUL as text: it must never reach a push or an id
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise CsvInputError(
            f"{path} contains a NUL byte; a CSV of pushes must be text",
            location=SourceLocation(str(path), line),
            hint="remove the NUL byte(s) (e.g. tr -d '\\000'), or re-export the CSV as UTF-8",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CsvInputError(f"{path} is not UTF-8 (byte {err.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = tuple(next(reader, []))
        id_column = next((c for c in ID_COLUMNS if c in header), None)
        if id_column is None:
            raise CsvInputError(
                f"{path} has no user id column",
                location=SourceLocation(str(path), 1),
                hint=f"name it one of: {', '.join(ID_COLUMNS)} (runs write user_id)",
            )
        rows: dict[str, dict[str, str | None]] = {}
        total = duplicates = empty = 0
        raw_ids: list[str] = []
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue  # blank line, skipped like the original's parser did
            if len(fields) != len(header):
                raise CsvInputError(
                    f"row has {len(fields)} field(s), the header has {len(header)}",
                    location=SourceLocation(str(path), reader.line_num),
                )
            total += 1
            values: dict[str, str | None] = dict(zip(header, fields, strict=True))
            user_id = (values[id_column] or "").strip()
            if not user_id:
                empty += 1
                continue
            key = user_id.lower()
            if key in rows:
                duplicates += 1
                continue
            rows[key] = values
            raw_ids.append(key)
    except csv.Error as err:
        raise CsvInputError(f"malformed CSV: {err}", location=SourceLocation(str(path), reader.line_num)) from None
    invalid = split_user_ids(raw_ids).invalid
    bad = set(invalid)
    return Recipients(
        sha256=_sha256(data),
        header=header,
        rows=tuple((uid, values) for uid, values in rows.items() if uid not in bad),
        total_rows=total,
        duplicates=duplicates,
        empty_ids=empty,
        invalid_ids=tuple(invalid),
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DeliveryError(f"cannot read {path}: {err.strerror}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
