"""The fast push preview and CSV read give exactly what the simple algorithms gave.

The reference implementations below are the former code, kept as the specification: ``preview`` rendered
every row with ``render``; ``read_recipients`` parsed every file with the csv module. Generated rows and
files cover every kind of bad row and every CSV corner the fast paths must leave to the slow one.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pytest

from engine.cadence.userids import ID_COLUMNS, split_user_ids
from engine.delivery import recipients as recipients_module
from engine.delivery.recipients import CsvInputError, read_recipient_columns, read_recipients
from engine.errors import EngineError
from engine.push.preview import EXAMPLES, BadRows, PushPreview, PushSample, mask, preview, preview_columns
from engine.push.template import PushTemplate, Variant, missing_columns, render

HOSTS = ("tradeblock.us",)
PII = ("firstName", "EMAIL")


# ---- reference implementations (the former code) ----------------------------------------------------------


def reference_preview(
    template: PushTemplate,
    rows: Iterable[tuple[str, Mapping[str, str | None]]],
    *,
    header: Sequence[str],
    samples: int,
    pii: Iterable[str],
    allowed_hosts: Sequence[str],
) -> PushPreview:
    pii = tuple(pii)
    absent = missing_columns(template, header)
    shown: list[PushSample] = []
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    total = 0
    for user_id, values in rows:
        total += 1
        reason = f"missing_value:{absent[0]}" if absent else render(template, values, allowed_hosts)[1]
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
            if len(ids := examples.setdefault(reason, [])) < EXAMPLES:
                ids.append(user_id)
        elif len(shown) < samples:
            push, _ = render(template, mask(values, pii), allowed_hosts)
            if push is not None:
                shown.append(PushSample(user_id, push.title, push.body, push.link))
    pii_names = {p.lower() for p in pii}
    return PushPreview(
        template=template.name,
        rows=total,
        samples=tuple(shown),
        bad=tuple(
            BadRows(reason, n, tuple(examples[reason]))
            for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        masked=tuple(name for name in template.variables() if name.lower() in pii_names),
    )


def reference_read(path: Path) -> Any:
    """The former read_recipients: (header, rows, total, duplicates, empty, invalid), or the error it raised."""
    data = path.read_bytes()
    if b"\x00" in data:
        return ("nul",)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ("utf8",)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = tuple(next(reader, []))
        id_column = next((c for c in ID_COLUMNS if c in header), None)
        if id_column is None:
            return ("no id",)
        rows: dict[str, dict[str, str | None]] = {}
        total = duplicates = empty = 0
        raw_ids: list[str] = []
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                return ("width", reader.line_num)
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
        return ("csv", str(err), reader.line_num)
    invalid = split_user_ids(raw_ids).invalid
    bad = set(invalid)
    kept = tuple((uid, values) for uid, values in rows.items() if uid not in bad)
    return (header, kept, total, duplicates, empty, tuple(invalid))


# ---- push previews ----------------------------------------------------------------------------------------


def _template(**fields: Any) -> PushTemplate:
    return PushTemplate(**{"layer": 3, "name": "t", **fields})


TEMPLATES = [
    _template(
        title="Hi [[var:firstName]]",
        body="[[var:product]] in size [[var:size]]",
        deep_link="https://tradeblock.us/p?v=[[var:variantID]]",
    ),
    # the host comes from a value: judged per distinct value
    _template(title="[[var:firstName]]", body="b", deep_link="https://[[var:host]]/x/[[var:variantID]]"),
    # a "[[" of the template's own next to a value that starts with "var:"
    _template(title="[[[[var:product]]", body="[[var:firstName]] [ ok", deep_link=None),
    # no variable at all; a static "[" in the body
    _template(title="Static", body="[not a var]", deep_link="https://tradeblock.us/home"),
    # a column no row has: every row is missing it
    _template(title="[[var:firstName]]", body="[[var:nope]]", deep_link=None),
    # a link whose scheme and host are not fixed by its start
    _template(title="x", body="y", deep_link="[[var:host]]"),
    _template(title="x [[var:EMAIL]]", body="y", deep_link="https://tradeblock.us?q=[[var:EMAIL]]&s=[[var:size]]"),
    # variants: their variables count as the template's
    _template(
        title="[[var:firstName]]",
        body="plain",
        variants=(Variant(name="a", body="[[var:size]]!"), Variant(name="b", title="[[var:product]]")),
    ),
]

HEADER = ("user_id", "firstName", "product", "size", "variantID", "host", "EMAIL")


def _rows(seed: int, n: int = 600) -> list[tuple[str, dict[str, str | None]]]:
    rng = random.Random(seed)
    names = ["Ann", "Bob", "", "  ", "\t", None, "Zoë", "[[var:x]]", "a[b", "var:y]]", "[[var", "Ann"]
    products = ["Dunk", "Jordan 1", "var:size]]", "[", "", " ", "Dunk [[var:firstName]]", "x]]"]
    sizes = ["9", "10.5", "", "11 [", "12"]
    variants = [f"v{i}" for i in range(12)] + ["a/b", "a?b#c", "é", "", None]
    hosts = ["tradeblock.us", "sub.tradeblock.us", "evil.com", "tradeblock.us.evil.com", "", "x y", "[::1]", "ß.de"]
    emails = ["a@b.c", "", "x%y", "https://evil.com"]
    rows = []
    for i in range(n):
        values = {
            "user_id": f"00000000-0000-0000-0000-{i:012d}",
            "firstName": rng.choice(names),
            "product": rng.choice(products),
            "size": rng.choice(sizes),
            "variantID": rng.choice(variants),
            "host": rng.choice(hosts),
            "EMAIL": rng.choice(emails),
        }
        rows.append((values["user_id"], values))
    return rows


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("index", range(len(TEMPLATES)))
def test_preview_is_the_reference_on_every_kind_of_row(index: int, seed: int) -> None:
    template = TEMPLATES[index]
    rows = _rows(seed)
    kwargs: dict[str, Any] = {"header": HEADER, "samples": 3, "pii": PII, "allowed_hosts": HOSTS}
    expected = reference_preview(template, rows, **kwargs)
    assert preview(template, rows, **kwargs) == expected
    variables = [v for v in template.variables() if v in HEADER]
    columns = {name: [values[name] for _, values in rows] for name in variables}
    assert preview_columns(template, [uid for uid, _ in rows], columns, **kwargs) == expected


def test_the_generated_rows_hit_every_reason() -> None:
    reasons = set()
    for template in TEMPLATES:
        for seed in range(4):
            kwargs: dict[str, Any] = {"header": HEADER, "samples": 3, "pii": PII, "allowed_hosts": HOSTS}
            reasons |= {b.reason.split(":")[0] for b in preview(template, _rows(seed), **kwargs).bad}
    assert reasons == {"missing_value", "literal_placeholder", "deep_link_host"}


def test_preview_of_no_rows_and_of_more_samples_than_rows() -> None:
    kwargs: dict[str, Any] = {"header": HEADER, "pii": PII, "allowed_hosts": HOSTS}
    for template in TEMPLATES:
        for rows, samples in (([], 3), (_rows(9, 5), 10)):
            expected = reference_preview(template, rows, samples=samples, **kwargs)
            assert preview(template, rows, samples=samples, **kwargs) == expected


# ---- the CSV read ------------------------------------------------------------------------------------------

UUIDS = [f"0e54067c-4c0e-4e4a-8a23-a4766157{i:04d}" for i in range(30)]


def _field(rng: random.Random) -> str:
    return rng.choice(["Ann", "", " ", "Zoë", "a,b", 'say "hi"', "two\r\nlines", "cr\ronly", "lf\nonly", "1.5", "x"])


def _quoted(value: str, rng: random.Random) -> str:
    if any(c in value for c in ',"\r\n') or rng.random() < 0.2:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_file(rng: random.Random) -> bytes:
    header = rng.choice([["user_id", "firstName", "size"], ["id", "name"], ["user_id"], ["user_id", "a", "a"]])
    terminator = rng.choice(["\r\n", "\n", "\r"])
    lines = [",".join(header)]
    for _ in range(rng.randint(0, 25)):
        kind = rng.random()
        if kind < 0.05:
            lines.append("")  # blank line
        elif kind < 0.08:
            lines.append(",".join(" " for _ in header))  # a line of blanks
        elif kind < 0.1:
            lines.append("   ")  # spaces only: one field
        else:
            user_id = rng.choice([*UUIDS, *(u.upper() for u in UUIDS[:3]), "", "  ", "not-a-uuid", f" {UUIDS[0]} "])
            values = [user_id, *(_field(rng) for _ in header[1:])]
            lines.append(",".join(_quoted(v, rng) for v in values))
    text = terminator.join(lines) + rng.choice([terminator, ""])
    data = text.encode()
    if rng.random() < 0.1:
        data = b"\xef\xbb\xbf" + data
    if rng.random() < 0.15:  # break it somewhere: a stray quote, a short row, a quote left open
        data = data + rng.choice([b'"x"y,1,2\r\n', b"only-one-field\r\n", b'"open', b'a"b,c\r\n'])
    return data


def _outcome(path: Path) -> Any:
    try:
        got = read_recipients(path)
    except CsvInputError as err:
        return ("error", err.location.line if err.location else None)
    return (got.header, got.rows, got.total_rows, got.duplicates, got.empty_ids, got.invalid_ids)


def _reference_outcome(path: Path) -> Any:
    expected = reference_read(path)
    if len(expected) == 6:
        return expected
    return ("error", expected[-1] if expected[0] in ("width", "csv") else 1 if expected[0] == "no id" else None)


@pytest.mark.parametrize("seed", range(300))
def test_read_recipients_is_the_reference_on_generated_files(seed: int, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(_csv_file(random.Random(seed)))
    assert _outcome(path) == _reference_outcome(path)
    expected = reference_read(path)
    if len(expected) == 6:
        header, rows = expected[0], expected[1]
        names = set(header[1:2])
        got = read_recipient_columns(path, names)
        assert got.user_ids == tuple(uid for uid, _ in rows)
        assert got.columns == {n: [values[n] for _, values in rows] for n in names}
        assert (got.total_rows, got.duplicates, got.empty_ids, got.invalid_ids) == expected[2:]


def test_a_well_formed_file_takes_the_fast_path_and_a_malformed_one_does_not(tmp_path: Path) -> None:
    good = b'user_id,name\r\n"0e54067c-4c0e-4e4a-8a23-a47661570000","a ""b"", c\r\nd"\r\n'
    header = ("user_id", "name")
    assert recipients_module._arrow_table(good, header) is not None
    for bad in (good + b'"x"y,z\r\n', good + b"short\r\n", b"user_id,user_id\r\n1,2\r\n"):
        assert (
            recipients_module._arrow_table(bad, ("user_id", "user_id") if b"user_id,user_id" in bad else header) is None
        )
    path = tmp_path / "in.csv"
    path.write_bytes(good + b'"x"y,z\r\n')
    with pytest.raises(EngineError, match="malformed CSV"):
        read_recipients(path)
