"""CSV encoding exactly as the original scripts wrote it (csv.DictWriter: RFC 4180, CRLF)."""

from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence


def encode_csv(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV bytes, header first, minimal quoting, CRLF line ends."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
