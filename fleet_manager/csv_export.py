"""CSV for exports (engagement, audit log) that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is read as a
formula by spreadsheet programs, so text from the database (a location name, an audit subject)
could run one on the exporting person's machine ("CSV injection"). Such text cells get a
leading single quote. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def safe_cell(value: Cell) -> str | int | float:
    """One cell as written: text that a spreadsheet would run is quoted, None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(header: Sequence[str] | None, rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The header line (unless None), then one line per row (each ending in CRLF, RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Sequence[Cell]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(c) for c in cells])
        return buffer.getvalue()

    if header is not None:
        yield line(list(header))
    for row in rows:
        yield line(row)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    return "".join(csv_lines(header, rows))
