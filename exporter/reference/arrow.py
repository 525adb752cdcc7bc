"""Parquet references, and CSV read by pyarrow's columnar reader: both need the `parquet` extra.

pyarrow is optional (about 100 MB installed): without it CSV goes through the stdlib reader and
a Parquet reference is refused with a message naming the extra.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exporter.reference import csvtext
from exporter.reference.columnar import Wanted, csv_floats, keys, spelled
from exporter.reference.data import Inexact, ReferenceError, floats

EXTRA = "ml-monitoring-exporter[parquet]"
BOM = b"\xef\xbb\xbf"
HEADER_PREFIX = 1 << 20  # bytes in which a CSV header must end for pyarrow to read the file
ARROW_CSV_BYTES = 4 * 2**20  # smaller CSV references are read without pyarrow


def pyarrow() -> Any | None:
    """The pyarrow package with its csv and parquet readers, or None without the extra.

    pyarrow.compute (a tenth of a second to import) is left to the columns that need it.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv  # the submodules are used through pa
        import pyarrow.parquet
    except ImportError:
        return None
    return pa


def _compute(pa: Any) -> Any:
    """pyarrow.compute, imported on the first column that needs more than a copy to numpy."""
    import pyarrow.compute as compute

    return compute


def _require(where: str) -> Any:
    pa = pyarrow()
    if pa is None:
        raise ReferenceError(
            f"{where}: reading a Parquet reference needs pyarrow: pip install '{EXTRA}'"
        )
    return pa


class ArrowTable:
    """Columns of a pyarrow table: numbers cast in C, texts as Python strings."""

    def __init__(self, pa: Any, table: Any, from_csv: bool = False) -> None:
        """Refuse repeated column names, which the row-by-row reader resolves (the last wins)."""
        if len(set(table.column_names)) != len(table.column_names):
            raise Inexact
        self._pa = pa
        self._table = table
        self._from_csv = from_csv  # texts that spell whole numbers are their class
        self._names = frozenset(table.column_names)

    @property
    def rows(self) -> int:
        """Data rows."""
        return int(self._table.num_rows)

    def has_feature(self, name: str) -> bool:
        """In the schema."""
        return name in self._names

    def has_optional(self, name: str) -> bool:
        """In the schema."""
        return name in self._names

    def numbers(self, name: str) -> np.ndarray:
        """Numbers and booleans cast in C; text through floats(), which is Python's float()."""
        pa, column = self._pa, self._table.column(name)
        kind = column.type
        if pa.types.is_floating(kind) or pa.types.is_integer(kind):  # nulls come out as NaN
            return np.asarray(column.to_numpy(), dtype=np.float64)
        if pa.types.is_boolean(kind):
            return _numpy(_compute(pa).cast(column, pa.float64(), safe=False))
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            return floats(column.to_pylist())
        compute = _compute(pa)
        try:  # pyarrow refuses some texts float() reads (" 1", "1_000"): those go to floats()
            cast = compute.cast(column, pa.float64())
        except pa.ArrowInvalid:  # ...and a CSV's True and False, which are 1 and 0
            return (csv_floats if self._from_csv else floats)(column.to_pylist())
        # ...and reads "nan(1)" as NaN, which float() refuses: every NaN's text is checked
        floats(compute.filter(column, compute.is_nan(cast)).to_pylist())
        return _numpy(cast)

    def texts(self, name: str) -> tuple[str | None, ...]:
        """Strings as they are (null: missing; "" a category, as on the wire, but a CSV read
        here has its empty cells null already), other values as class keys."""
        pa, column = self._pa, self._table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return keys(column.to_pylist())
        out: tuple[str | None, ...] = tuple(column.to_pylist())
        return spelled(out) if self._from_csv else out


def _numpy(column: Any) -> np.ndarray:
    """A float64 column as numpy, NaN where null."""
    return np.asarray(column.fill_null(math.nan).to_numpy(), dtype=np.float64)


def csv_table(content: bytes, wanted: Wanted) -> ArrowTable | None:
    """A CSV read by pyarrow, or None to use the stdlib reader.

    None when the file is small (the stdlib reader takes milliseconds there, and a daemon that
    never imports pyarrow holds about 25 MB less), when pyarrow is missing, when its reading
    of the header differs from the csv module's, or when it refuses the file (ragged rows, bad
    UTF-8, no header): the stdlib reader then decides, as before. Numeric columns are parsed
    straight to float64; a value pyarrow refuses (" 1", "1_000") has the whole file read again
    as text, for floats().
    """
    if len(content) < ARROW_CSV_BYTES:
        return None
    pa = pyarrow()
    body = content[len(BOM) :] if content.startswith(BOM) else content
    prefix = body[:HEADER_PREFIX].decode("utf-8", "ignore")
    header = csvtext.header(prefix)
    if pa is None or not header or len(set(header)) != len(header):
        return None
    # pyarrow reads "nan(1)" as NaN where float() refuses it: no "(", no such text
    numeric = wanted.numeric - wanted.text if b"(" not in body else frozenset()
    quoted = b'"' in body
    if quoted:  # a last row of nulls, which a quote never closed swallows: see _ended
        body = body + b"\n" + b"," * (len(header) - 1) + b'""\n'
    table = _read_csv(pa, body, header, numeric, quoted)
    if table is None and numeric:
        table = _read_csv(pa, body, header, frozenset(), quoted)
    if table is None or table.column_names != header:
        return None
    if quoted and (table := _ended(table)) is None:
        return None
    return ArrowTable(pa, table.select([n for n in header if n in wanted.names]), from_csv=True)


def _ended(table: Any) -> Any | None:
    """The table without the row of nulls csv_table added, or None when a quote never closed
    swallowed it (pyarrow reads the rest of the file into one cell without a word; the
    stdlib reader names the line)."""
    rows = table.num_rows
    if rows == 0 or table.column(table.num_columns - 1)[rows - 1].is_valid:
        return None
    return table.slice(0, rows - 1)


def _read_csv(
    pa: Any, body: bytes, header: list[str], numeric: frozenset[str], quoted: bool
) -> Any | None:
    """Every cell as text but the numeric columns' as float64, "" as null; None if refused."""
    kinds = {n: pa.float64() if n in numeric else pa.string() for n in header}
    convert = pa.csv.ConvertOptions(
        column_types=kinds,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        return pa.csv.read_csv(
            pa.BufferReader(body),
            # a newline inside a value needs quotes; without any, pyarrow splits the file freely
            parse_options=pa.csv.ParseOptions(newlines_in_values=quoted),
            convert_options=convert,
        )
    except (pa.ArrowException, ValueError):
        return None


def _read_parquet(pa: Any, content: bytes, names: list[str]) -> Any:
    """The named columns of a one-file Parquet reference, without pyarrow.dataset's import."""
    return pa.parquet.ParquetFile(pa.BufferReader(content)).read(columns=names)


def _columns(pa: Any, content: bytes, where: str) -> list[str]:
    """The schema's column names; one named twice is refused, as a CSV header's is (pyarrow
    reads both, and the row reader kept the last: a join's leftover replaced the column)."""
    try:
        names: list[str] = list(pa.parquet.read_schema(pa.BufferReader(content)).names)
    except (pa.ArrowException, OSError) as exc:
        raise ReferenceError(f"{where}: not a readable Parquet file ({exc})") from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ReferenceError(f"{where}: the schema names column {repeated[0]!r} twice")
    return names


def _wanted_table(content: bytes, wanted: Wanted, where: str) -> tuple[Any, Any]:
    """pyarrow and the wanted columns of a Parquet file."""
    pa = _require(where)
    names = [n for n in _columns(pa, content, where) if n in wanted.names]
    try:
        return pa, _read_parquet(pa, content, names)
    except (pa.ArrowException, OSError) as exc:
        raise ReferenceError(f"{where}: not a readable Parquet file ({exc})") from None


def parquet_table(content: bytes, wanted: Wanted, where: str) -> ArrowTable:
    """The wanted columns of a Parquet file."""
    return ArrowTable(*_wanted_table(content, wanted, where))


def parquet_rows(content: bytes, wanted: Wanted, where: str) -> list[dict[str, Any]]:
    """The wanted columns of a Parquet file as rows, for the row-by-row reader."""
    rows: list[dict[str, Any]] = _wanted_table(content, wanted, where)[1].to_pylist()
    return rows


def parquet_columns(content: bytes, where: str) -> list[str]:
    """Every column name of a Parquet file, for `reference show`."""
    return _columns(_require(where), content, where)
