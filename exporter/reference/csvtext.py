"""How the stdlib CSV readers split text into records, so they agree on every file.

Lines may end in \\n, \\r\\n or a bare \\r (Excel's "CSV (Macintosh)"), a cell may be as long
as the file, and csv.Error becomes a ReferenceError naming the file and line: before, a
CR-only file or a cell over the csv module's 131,072-character limit escaped as a traceback.
A quote never closed is found by the record read after the text's own (END_ROW).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

from exporter.reference.data import ReferenceError

# The record every text is read with after its own: a quoted cell alone, read as END_ROW when
# the text ends outside quotes, and swallowed into the open cell when a quote is never closed
# (the csv module then ends the cell silently at the end of the text: a stray quote on line
# 302 of 1,001 loaded 301 rows, the rest of the file one cell).
END = "\x00mlmon: end of text\x00"
END_ROW = [END]
NEVER_CLOSED = "a quote opened in this row is never closed (the rest of the file would be one cell)"


def reader(text: str) -> Any:
    """A csv.reader of text and then END_ROW, with no cell-size limit below the text's length.

    csv.field_size_limit is process-wide; it only ever grows here, to at most the largest
    reference read (256 MiB), whose text is in memory already.
    """
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    # a last line without a line end still ends its record, as the end of a line does
    return csv.reader(itertools.chain(io.StringIO(text, newline=""), (f'"{END}"\n',)))


def records(text: str, where: str) -> Iterator[tuple[int, list[str]]]:
    """Every record with the line it starts on; csv.Error and a quote never closed are
    ReferenceErrors naming the file and line."""
    rows = reader(text)
    start, held = 1, (1, END_ROW)
    try:
        for row in rows:
            if start > 1:
                yield held
            held, start = (start, row), rows.line_num + 1
    except csv.Error as exc:
        raise ReferenceError(f"{where}: line {rows.line_num}: {exc}") from None
    if held[1] != END_ROW:
        raise ReferenceError(f"{where}: line {held[0]}: {NEVER_CLOSED}")


def header(text: str) -> list[str]:
    """The first record of text (a prefix of a file will do); [] when there is none."""
    try:
        first: list[str] = next(reader(text))
    except csv.Error:
        return []
    return [] if first == END_ROW else first
