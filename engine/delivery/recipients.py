"""What a send reads: a run folder's output (found through manifest.json) or a plain CSV.

The CSV is read whole (its checksum identifies an ad hoc send), parsed as RFC 4180,
and reduced to one row per user: the first row wins, later ones are counted as
duplicates. Rows with an empty id are dropped and counted; ids that are not UUIDs
are counted and never sent.

A well-formed file is parsed by pyarrow (all columns strings), much faster than the csv module;
anything else, or anything pyarrow would read differently, by the csv module, whose reading (and
error, with its line) is the reference (``_arrow_table``). ``read_recipient_columns`` returns the same
rows by column, only the columns asked for: the run report's push previews need no dict per row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from engine.cadence.userids import ID_COLUMNS, split_user_ids
from engine.errors import DeliveryError, SourceLocation
from engine.push.template import PushTemplate, TemplateError
from engine.runs.model import MANIFEST, OutputStatus, read_manifest

# RFC 4180 as the csv module reads it (excel dialect, strict): each field quoted ("" for a quote inside,
# which may hold commas and line breaks) or free of quotes, commas and line breaks; records end in CRLF, LF or CR
_FIELD = rb'(?:"(?:[^"]|"")*+"|[^",\r\n]*+)'
_RECORD = _FIELD + rb"(?:," + _FIELD + rb")*+"
_WELL_FORMED = re.compile(rb"(?:" + _RECORD + rb"(?:\r\n|\n|\r))*+(?:" + _RECORD + rb")?")

# lower-case canonical UUIDs, every one of them valid for split_user_ids (RE2's "$" is only the end of the text)
_CANONICAL_UUID = r"^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$"


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


@dataclass(frozen=True)
class RecipientColumns:
    """``Recipients`` by column: the same users in the same order, with only the columns asked for."""

    sha256: str
    header: tuple[str, ...]
    user_ids: tuple[str, ...]  # canonical user ids, the rows of ``read_recipients``
    columns: dict[str, list[str]]  # column -> its value on each of those rows (the columns asked for that exist)
    total_rows: int
    duplicates: int
    empty_ids: int
    invalid_ids: tuple[str, ...]


def read_recipients(path: Path) -> Recipients:
    """Parse the CSV; malformed input raises with the line number."""
    scan = _scan(path, None)
    header = scan.header
    values = zip(*(scan.columns[i] for i in range(len(header))), strict=True)
    return Recipients(
        sha256=scan.sha256,
        header=header,
        rows=tuple((uid, dict(zip(header, fields))) for uid, fields in zip(scan.user_ids, values, strict=True)),
        total_rows=scan.total_rows,
        duplicates=scan.duplicates,
        empty_ids=scan.empty_ids,
        invalid_ids=scan.invalid_ids,
    )


def read_recipient_columns(path: Path, names: Iterable[str]) -> RecipientColumns:
    """``read_recipients`` without a dict per row: the values of the columns ``names`` only (e.g. a template's)."""
    wanted = set(names)
    scan = _scan(path, wanted)
    # a repeated column name holds its last value, as in read_recipients' dict per row
    positions = {name: i for i, name in enumerate(scan.header) if name in wanted}
    return RecipientColumns(
        sha256=scan.sha256,
        header=scan.header,
        user_ids=scan.user_ids,
        columns={name: scan.columns[i] for name, i in positions.items()},
        total_rows=scan.total_rows,
        duplicates=scan.duplicates,
        empty_ids=scan.empty_ids,
        invalid_ids=scan.invalid_ids,
    )


@dataclass(frozen=True)
class _Scan:
    sha256: str
    header: tuple[str, ...]
    user_ids: tuple[str, ...]
    columns: dict[int, list[str]]  # header position -> values of the rows kept
    total_rows: int
    duplicates: int
    empty_ids: int
    invalid_ids: tuple[str, ...]


def _scan(path: Path, wanted: set[str] | None) -> _Scan:
    """Read and check the CSV, one row per user; the columns named ``wanted`` (None: all) are returned."""
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
        # a row's values are dict(zip(header, fields)): a repeated column name holds its last value, the id's too
        id_index = len(header) - 1 - header[::-1].index(id_column)
        positions = [i for i, name in enumerate(header) if wanted is None or name in wanted]
        table = _arrow_table(data, header)
        if table is not None:
            ids = table.column(id_index).to_pylist()
            kept, total, duplicates, empty = _one_per_user(ids, lambda i: _arrow_row(table, i))
        else:
            rows = list(_checked_records(reader, len(header), path))
            kept, total, duplicates, empty = _one_per_user([f[id_index] for f in rows], rows.__getitem__)
    except csv.Error as err:
        raise CsvInputError(f"malformed CSV: {err}", location=SourceLocation(str(path), reader.line_num)) from None
    invalid = _invalid_ids(list(kept))
    if invalid:
        bad = set(invalid)
        kept = {uid: index for uid, index in kept.items() if uid not in bad}
    indices = list(kept.values())
    if table is not None and len(indices) == table.num_rows:  # every row kept, in order
        columns = {i: table.column(i).to_pylist() for i in positions}
    elif table is not None:
        take = pa.array(indices, type=pa.int64())
        columns = {i: table.column(i).take(take).to_pylist() for i in positions}
    else:
        columns = {i: [rows[index][i] for index in indices] for i in positions}
    return _Scan(
        sha256=_sha256(data),
        header=header,
        user_ids=tuple(kept),
        columns=columns,
        total_rows=total,
        duplicates=duplicates,
        empty_ids=empty,
        invalid_ids=tuple(invalid),
    )


def _invalid_ids(keys: list[str]) -> tuple[str, ...]:
    """``split_user_ids(keys).invalid`` for distinct ``keys``; it judges only those a vectorised check does not pass."""
    if not keys:
        return ()
    canonical = pc.match_substring_regex(pa.array(keys, type=pa.string()), _CANONICAL_UUID).to_pylist()
    return split_user_ids([key for key, ok in zip(keys, canonical, strict=True) if not ok]).invalid


def _one_per_user(ids: list[str], row: Callable[[int], Sequence[str]]) -> tuple[dict[str, int], int, int, int]:
    """The first row of each user id (canonical id -> row index) and the counts of rows, duplicates, empty ids.

    A row whose fields are all blank is a blank line, skipped (``row`` gives its fields: only asked for an empty id).
    """
    kept: dict[str, int] = {}
    blank = duplicates = empty = 0
    for index, raw in enumerate(ids):
        user_id = raw.strip()
        if not user_id:
            if any(map(str.strip, row(index))):
                empty += 1
            else:
                blank += 1  # blank line, skipped like the original's parser did
        elif kept.setdefault(user_id.lower(), index) != index:
            duplicates += 1
    return kept, len(ids) - blank, duplicates, empty


def _arrow_table(data: bytes, header: tuple[str, ...]) -> Any:
    """The rows after the header as the csv module reads them, parsed by pyarrow (all strings); None unless certain.

    Certain for a well-formed RFC 4180 file (_WELL_FORMED) with distinct column names, rows as wide as the
    header and fields within the csv module's size limit: there both parsers read the same fields. Anything
    else (a stray quote, a short row, a line of spaces) goes to the csv module, which reads it or says why not.
    """
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    if len(set(header)) != len(header):
        return None
    if b'"' in body and _WELL_FORMED.fullmatch(body) is None:  # without a quote every file is well-formed
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:  # e.g. a row of another width: the csv module reports it with its line
        return None
    if tuple(table.column_names) != header:
        return None
    limit = csv.field_size_limit()  # in characters, which are never more than the bytes
    if len(body) > limit and any((pc.max(pc.binary_length(column)).as_py() or 0) > limit for column in table.columns):
        return None  # the csv module may refuse a field that long: it decides
    return table


def _arrow_row(table: Any, index: int) -> list[str]:
    return [column[index].as_py() for column in table.columns]


def _checked_records(reader: Any, width: int, path: Path) -> Iterator[list[str]]:
    """The csv module's rows without blank lines, each as wide as the header (else the error, with its line)."""
    for fields in reader:
        if not any(map(str.strip, fields)):
            continue  # blank line, skipped like the original's parser did
        if len(fields) != width:
            raise CsvInputError(
                f"row has {len(fields)} field(s), the header has {width}",
                location=SourceLocation(str(path), reader.line_num),
            )
        yield fields


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DeliveryError(f"cannot read {path}: {err.strerror}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
