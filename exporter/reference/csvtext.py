"""How the stdlib CSV readers split text into records, so they agree on every file.

Lines may end in \\n, \\r\\n or a bare \\r (Excel's "CSV (Macintosh)"), a cell may be as long
as the file, and csv.Error becomes a ReferenceError naming the file and line: before, a
CR-only file or a cell over the csv module's 131,072-character limit escaped as a traceback.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from exporter.reference.data import ReferenceError


def reader(text: str) -> Any:
    """A csv.reader of text with no cell-size limit below the text's own length.

    csv.field_size_limit is process-wide; it only ever grows here, to at most the largest
    reference read (256 MiB), whose text is in memory already.
    """
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    return csv.reader(io.StringIO(text, newline=""))


def records(text: str, where: str) -> Iterator[tuple[int, list[str]]]:
    """Every record with the line it starts on; csv.Error named with its file and line."""
    rows = reader(text)
    start = 1
    try:
        for row in rows:
            yield start, row
            start = rows.line_num + 1
    except csv.Error as exc:
        raise ReferenceError(f"{where}: line {rows.line_num}: {exc}") from None


def header(text: str) -> list[str]:
    """The first record of text (a prefix of a file will do); [] when there is none."""
    try:
        return next(reader(text), [])
    except csv.Error:
        return []
