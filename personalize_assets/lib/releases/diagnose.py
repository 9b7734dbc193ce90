"""Finding the exact line, column and value behind a table that failed to parse.

The fast readers (Arrow) say what went wrong but not where. When they fail, these slow
passes walk the same bytes line by line and raise a ReleaseError that points at it.
"""

from __future__ import annotations

import csv
import io
import math
from typing import BinaryIO, Callable, Iterable, Sequence

from .errors import ReleaseError


# Column kinds and how to tell a good value.
def _is_int(value: str) -> bool:
    try:
        int(value)
        return True
    except ValueError:
        return False


def _is_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "int": (_is_int, "a whole number"),
    "float": (_is_float, "a finite number"),
    "str": (lambda value: True, "text"),
}


def check_fields(label: str, line: int, fields: Sequence[str], columns: Sequence[tuple[str, str]]) -> None:
    if len(fields) != len(columns):
        raise ReleaseError(
            f"{label} line {line}: expected {len(columns)} fields ({', '.join(n for n, _ in columns)}), "
            f"found {len(fields)}: {list(fields)[:8]!r}. Fix or remove that line."
        )
    for number, ((name, kind), value) in enumerate(zip(columns, fields), start=1):
        good, wanted = CHECKS[kind]
        if not good(value):
            raise ReleaseError(
                f"{label} line {line}, column {number} ({name}): {value!r} is not {wanted}. "
                "Fix or remove that line."
            )


def decoded_lines(raw: BinaryIO, label: str, encoding: str) -> Iterable[tuple[int, str]]:
    """(line number, text) pairs, with a clear error for bytes that are not `encoding`."""
    for number, data in enumerate(raw, start=1):
        try:
            yield number, data.decode(encoding)
        except UnicodeDecodeError as error:
            raise ReleaseError(
                f"{label} line {number}, byte {error.start + 1}: {data[error.start:error.start + 4]!r} is not "
                f"valid {encoding}. Re-save the file as {encoding}."
            ) from error


def diagnose_csv(raw: BinaryIO, label: str, columns: Sequence[tuple[str, str]]) -> None:
    """Raise a ReleaseError at the first bad line of a quoted, headed CSV; return if none."""
    reader = csv.reader((line for _, line in decoded_lines(raw, label, "utf-8")), strict=True)
    record_start = 1  # a quoted field may span lines: errors name the line its record began on
    try:
        if next(reader, None) is None:
            raise ReleaseError(f"{label} is empty: expected a header line {','.join(n for n, _ in columns)}.")
        record_start = reader.line_num + 1
        for fields in reader:
            if fields:
                check_fields(label, record_start, fields, columns)
            record_start = reader.line_num + 1
    except csv.Error as error:
        raise ReleaseError(
            f"{label} line {record_start}: malformed CSV ({error}); a quote opened on that line "
            "is probably never closed. Fix the quoting of that line."
        ) from error


def diagnose_split(raw: BinaryIO, label: str, columns: Sequence[tuple[str, str]], separator: str,
                   encoding: str = "utf-8", header: bool = False) -> None:
    """Raise at the first bad line of an unquoted, `separator`-delimited file; return if none."""
    for number, line in decoded_lines(raw, label, encoding):
        if header and number == 1:
            continue
        line = line.rstrip("\r\n")
        if line:
            check_fields(label, number, line.split(separator), columns)


def header_of(raw: BinaryIO, label: str) -> list[str]:
    first = raw.readline()
    if not first.strip():
        raise ReleaseError(f"{label} is empty: it has no header line.")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{label} line 1: the header is not valid UTF-8.") from error
    return next(csv.reader(io.StringIO(text)))
