"""Parse the metadata CSVs that travel with creatives (ad copy, tags, dates, spend, ...).

``parse_metadata_csv`` never raises on content: whatever it cannot use becomes a
``MetadataWarning`` that names the CSV, row and column, and says what happened.

Duplicate rows for the same file are all kept: some datasets hold several ads that
share one image but differ in copy (two rows with the same ``file`` and different
``ad_text`` are two distinct ads).  Deciding what to do with them is the caller's job.
"""
from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field as dc_field
from typing import Any, Iterator

from .limits import DEFAULT_LIMITS, IngestLimits
from .metadata_values import flag_implausible, parse_date, parse_number

FILE_ALIASES = ["file", "filename", "file_name", "path", "image", "asset",
                "file_path", "image_path", "asset_path"]
CANONICAL: dict[str, list[str]] = {
    "headline": ["title", "headline"],
    "copy": ["ad_text", "copy", "body", "description", "text", "primary_text"],
    "cta": ["cta", "call_to_action"],
    "tags": ["tags", "labels", "keywords"],
    "format": ["format"],
    "placement": ["placement"],
    "campaign": ["campaign", "campaign_name"],
    "date": ["date", "created", "created_at", "start", "start_date", "launch_date"],
    "end_date": ["end", "end_date", "ended"],
    "spend": ["spend", "spend_amount", "cost", "amount_spent"],
    "impressions": ["impressions", "impr"],
    "clicks": ["clicks"],
    "conversions": ["conversions", "purchases", "results"],
    "revenue": ["revenue"],
    "ctr": ["ctr"],
}
_INT_FIELDS = {"impressions", "clicks", "conversions"}
_FLOAT_FIELDS = {"spend", "revenue", "ctr"}
_DATE_FIELDS = {"date", "end_date"}
_DELIMITERS = ",;\t"  # ties go to the first: comma
_MAX_WARNINGS_PER_COLUMN = 10

_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:/|/|[A-Za-z][A-Za-z0-9+.-]*://)")
_TAG_SPLIT = re.compile(r"[;,|]")


@dataclass
class MetadataRow:
    file: str  # posix, NFC, relative to the SOURCE root (the CSV's folder joined with the value)
    fields: dict[str, Any]  # canonical fields present in the CSV, typed; None where empty or invalid
    attributes: dict[str, str]  # every other non-empty column, as text, under its own header
    row_number: int  # as a spreadsheet shows it: the header is row 1
    raw: dict[str, str] = dc_field(default_factory=dict, repr=False, compare=False)  # canonical field -> cell text


@dataclass
class MetadataWarning:
    csv: str
    row: int | None
    column: str | None
    message: str


def parse_metadata_csv(data: bytes, csv_rel_path: str,
                       limits: IngestLimits = DEFAULT_LIMITS) -> tuple[list[MetadataRow], list[MetadataWarning]]:
    """Rows of a metadata CSV keyed by creative file, plus warnings; never raises on content.

    Encoding: UTF-8 (with or without BOM) or UTF-16 with BOM, else Windows-1252/Latin-1 with a
    warning.  Delimiter: comma, semicolon or tab, whichever splits the header best.  Numbers accept
    "1,234", "$12.50", "(5)", "12%" (a fraction: 0.12); "", "NA", "-" are empty.  A ``ctr``
    column written as percentages without "%" (any value over 1) is rescaled to fractions.
    Duplicate rows for one file are all kept (see the module docstring), up to
    ``limits.max_ads_per_creative``; a CSV is read up to ``limits.max_csv_rows`` rows.  A row with an
    unclosed quote is reported by its line and skipped; the rows after it are still read.  Implausible
    values (negative counts, clicks over impressions, CTR over 100%, end before start, absurd
    magnitudes, Excel serial dates) are left empty, warned about, and kept as text in an
    "(unconfirmed)" attribute, so they stay out of totals until a corrected CSV replaces them.
    """
    log = _WarningLog(csv_rel_path)
    text = _decode(data, log)
    if text is None:
        return [], log.finish()
    records = _records(text, log)
    first = next(records, None)
    header = None if first is None else first[1]
    if header is None:
        log.add(None, None, "was not used: it is empty.")
        return [], log.finish()
    columns = _Columns(header)
    if columns.file is None:
        log.add(None, None, "was not used: no column names the creative file (expected one of "
                            f"{', '.join(FILE_ALIASES[:6])}); add a 'file' column and upload again.")
        return [], log.finish()
    folder = posixpath.dirname(_normalise_path(csv_rel_path))
    rows = []
    for number, cells in records:
        if number - 1 > limits.max_csv_rows:
            log.add(None, None, f"has more than {limits.max_csv_rows:,} rows; the rows from row {number} on were "
                                "not used (split it into smaller CSVs).")
            break
        if (row := _parse_row(cells, number, columns, folder, log, limits.max_cell_chars)):
            rows.append(row)
    _rescale_percent_ctr(rows, columns, log)
    for row in rows:
        flag_implausible(row, {field: columns.name(i) for i, field in columns.fields.items()}, log)
    return _cap_rows_per_file(rows, limits.max_ads_per_creative, log), log.finish()


class _WarningLog:
    """Collects warnings, capping repeats per column so one bad column can't bury the rest."""

    def __init__(self, csv_name: str):
        self.csv = csv_name
        self.items: list[MetadataWarning] = []
        self._per_column: Counter[str | None] = Counter()

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self._per_column[column] += 1
        if column is None or self._per_column[column] <= _MAX_WARNINGS_PER_COLUMN:
            where = f"{self.csv} row {row}:" if row else self.csv
            self.items.append(MetadataWarning(self.csv, row, column, f"{where} {message}"))

    def finish(self) -> list[MetadataWarning]:
        for column, count in self._per_column.items():
            if column is not None and count > _MAX_WARNINGS_PER_COLUMN:
                extra = count - _MAX_WARNINGS_PER_COLUMN
                self.items.append(MetadataWarning(self.csv, None, column,
                                                  f"{self.csv} has {extra} more problems in column "
                                                  f"'{column}' that were not listed one by one."))
        return self.items


class _Columns:
    """Which column is the file, which are canonical fields, and what to call the rest."""

    def __init__(self, header: list[str]):
        self.header = [unicodedata.normalize("NFC", h.strip().lstrip("\ufeff")) for h in header]
        self.file: int | None = None
        self.fields: dict[int, str] = {}
        self.attributes: dict[int, str] = {}
        file_keys = {_key(alias) for alias in FILE_ALIASES}
        field_by_key = {_key(a): name for name, aliases in CANONICAL.items() for a in aliases}
        taken: set[str] = set()
        for index, name in enumerate(self.header):
            key = _key(name)
            field = field_by_key.get(key)
            if key in file_keys and self.file is None:
                self.file = index
            elif field and field not in taken:  # the first matching column wins
                self.fields[index] = field
                taken.add(field)
            else:
                self.attributes[index] = self._attribute_name(name, index)

    def name(self, index: int) -> str:
        return self.header[index] if index < len(self.header) and self.header[index] else f"column_{index + 1}"

    def _attribute_name(self, name: str, index: int) -> str:
        name = name or f"column_{index + 1}"
        used = set(self.attributes.values())
        return name if name not in used else f"{name} ({index + 1})"


def _key(header: str) -> str:
    """'Amount spent (USD)' -> 'amountspent': case, spaces, '_', '-' and units don't matter."""
    return re.sub(r"[\s_\-.]+", "", re.sub(r"\(.*?\)", "", header.lower()))


def _decode(data: bytes, log: _WarningLog) -> str | None:
    if data.startswith(b"PK\x03\x04"):
        log.add(None, None, "was not used: it looks like an Excel workbook, not a CSV; "
                            "save it as CSV and upload again.")
        return None
    text, fallback = _decode_text(data)
    if "\x00" in text:
        log.add(None, None, "was not used: it contains binary data, not CSV text; "
                            "export it as CSV and upload again.")
        return None
    if fallback:
        log.add(None, None, f"is not UTF-8, so it was read as {fallback}; check accented "
                            "characters, or re-save it as 'CSV UTF-8'.")
    return text


def _decode_text(data: bytes) -> tuple[str, str | None]:
    """(text, name of the fallback encoding used, or None when the file was proper Unicode)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        return data.decode("utf-16", errors="replace"), None
    for encoding, fallback in (("utf-8-sig", None), ("cp1252", "Windows-1252")):
        try:
            return data.decode(encoding), fallback
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "Latin-1"  # decodes any bytes


def _records(text: str, log: _WarningLog) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every record; a record whose quote never closes is reported and skipped.

    An unbalanced quote makes a CSV reader swallow every following line into one cell; such a
    record (spanning lines, with the wrong number of cells or with whole rows inside a cell) is
    dropped with its line number and reading starts again on the next line.
    """
    end = text.find("\n")
    header_line = (text if end < 0 else text[:end]).rstrip("\r")
    delimiter = max(_DELIMITERS, key=lambda d: len(next(csv.reader(io.StringIO(header_line, newline=""),
                                                                   delimiter=d), [])))
    lines = text.splitlines(keepends=True)
    width = None
    start = 0
    number = 0  # spreadsheet row: records counted, a skipped broken one included (stable ads' row keys)
    while start < len(lines):
        reader = csv.reader(iter(lines[start:]), delimiter=delimiter)
        resume = None
        while True:
            first = start + reader.line_num
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. an enormous field
                number += 1
                log.add(number, None, f"could not be parsed at line {first + 1} ({exc}); that row was skipped.")
                resume = first + 1
                break
            number += 1
            consumed = start + reader.line_num - first
            if width is None:
                width = len(cells)
            elif consumed > 1 and _swallowed(cells, width, delimiter):
                log.add(number, None, f"line {first + 1} has a quote (\") that is never closed, so it would have "
                                         f"swallowed the next {consumed - 1} lines; line {first + 1} was skipped, "
                                         "the lines after it were read on their own.")
                resume = first + 1
                break
            yield number, cells
        start = resume


def _swallowed(cells: list[str], width: int, delimiter: str) -> bool:
    if len(cells) != width:
        return True
    # a quoted cell holding whole lines that look like rows of this CSV
    return any(line.count(delimiter) >= max(1, width - 1) for cell in cells if "\n" in cell
               for line in cell.split("\n")[1:])


def _parse_row(cells: list[str], number: int, columns: _Columns, folder: str,
               log: _WarningLog, max_cell_chars: int = DEFAULT_LIMITS.max_cell_chars) -> MetadataRow | None:
    if not any(cell.strip() for cell in cells):
        return None  # spreadsheets export trailing blank rows
    if any(len(cell) > max_cell_chars for cell in cells):
        long = next(i for i, cell in enumerate(cells) if len(cell) > max_cell_chars)
        log.add(number, columns.name(long), f"'{columns.name(long)}' holds {len(cells[long]):,} characters; "
                                            f"only the first {max_cell_chars:,} were kept.")
        cells = [cell[:max_cell_chars] for cell in cells]
    raw_file = _cell(cells, columns.file)
    file_column = columns.name(columns.file)
    if not raw_file.strip():
        log.add(number, file_column, f"the '{file_column}' value is empty; row skipped.")
        return None
    file = _resolve_file(raw_file, folder, number, file_column, log)
    if file is None:
        return None
    fields = {field: _parse_field(field, _cell(cells, index), number, columns.name(index), log)
              for index, field in columns.fields.items()}
    attributes = {columns.attributes.get(index, columns.name(index)): _text(cell)
                  for index, cell in enumerate(cells)
                  if index != columns.file and index not in columns.fields and cell.strip()}
    raw = {field: _cell(cells, index).strip() for index, field in columns.fields.items()}
    return MetadataRow(file, fields, attributes, number, raw)


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _resolve_file(raw: str, folder: str, number: int, column: str, log: _WarningLog) -> str | None:
    value = _normalise_path(raw)
    if _ABSOLUTE.match(value):
        # Exports often hold the designer's own path or a CDN URL; the file name is what can match.
        value = value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        log.add(number, column, f"'{_short(raw)}' is an absolute path or URL; matched by its file name "
                                f"'{value}' next to the CSV instead.")
    joined = posixpath.normpath(posixpath.join(folder, value))
    if joined == ".." or joined.startswith("../"):
        log.add(number, column, f"'{_short(raw)}' points outside the upload; row skipped.")
        return None
    return joined


def _normalise_path(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip()).replace("\\", "/")


def _parse_field(field: str, raw: str, number: int, column: str, log: _WarningLog) -> Any:
    value = raw.strip()
    if field in _INT_FIELDS or field in _FLOAT_FIELDS:
        parser, kind = parse_number, "a number"
    elif field in _DATE_FIELDS:
        parser, kind = parse_date, "a date"
    elif field == "tags":
        return list(dict.fromkeys(t for t in (_text(t) for t in _TAG_SPLIT.split(value)) if t))
    else:
        return _text(value) or None
    try:
        parsed = parser(value)
    except ValueError:
        log.add(number, column, f"{column} '{_short(value)}' is not {kind}; left empty.")
        return None
    if field in _INT_FIELDS and isinstance(parsed, float) and parsed.is_integer():
        return int(parsed)
    return parsed


def _rescale_percent_ctr(rows: list[MetadataRow], columns: _Columns, log: _WarningLog) -> None:
    """A CTR over 1 can't be a fraction, so the column was written in percent (ads tools export '1.23').

    Only cells written without '%' are rescaled: '2%' is already 0.02 whatever the other rows say.
    """
    bare = [row for row in rows if row.fields.get("ctr") is not None and "%" not in row.raw.get("ctr", "")]
    if not any(row.fields["ctr"] > 1 for row in bare):
        return
    for row in bare:
        row.fields["ctr"] /= 100
    column = columns.name(next(i for i, f in columns.fields.items() if f == "ctr"))
    log.add(None, None, f"has percentages in column '{column}' (values over 1); "
                        "they were divided by 100 to make fractions.")


def _cap_rows_per_file(rows: list[MetadataRow], cap: int, log: _WarningLog) -> list[MetadataRow]:
    """At most ``cap`` rows (ads) per file: 5,000 rows naming one image would make 5,000 ads."""
    counts = Counter(row.file for row in rows)
    over = {file for file, n in counts.items() if n > cap}
    if not over:
        return rows
    kept, seen = [], Counter()
    for row in rows:
        seen[row.file] += 1
        if seen[row.file] <= cap:
            kept.append(row)
    for file in sorted(over):
        log.add(None, None, f"has {counts[file]:,} rows for '{_short(file)}'; only the first {cap:,} became ads "
                            f"(one file stands for at most {cap:,} ads).")
    return kept


def _text(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip().replace("\r\n", "\n"))


def _short(value: str, limit: int = 40) -> str:
    value = value.strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"
