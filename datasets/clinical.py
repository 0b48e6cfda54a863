"""Ingest of clinical tables (CSV, TSV, Excel) into a published Parquet table with a data dictionary."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl

from cirn.state import StateFolder

from .catalog import DatasetVersion
from .dictionary import ColumnInfo, build_dictionary, read_dictionary_file
from .errors import MalformedInput
from .publish import draft_version

TABLE = "table.parquet"
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "y", "t"}, {"false", "no", "n", "f"}


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows as strings; a ragged row, an empty or duplicate header stops with file and line."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path)
    if suffix in (".csv", ".tsv", ".txt", ".tab"):
        delimiter = "," if suffix == ".csv" else "\t"
        return _read_delimited(path, delimiter)
    raise MalformedInput(path, None, f"unknown table format {path.suffix!r}; use .csv, .tsv or .xlsx")


def _check_header(path: Path, header: list[str]) -> list[str]:
    header = [h.strip() for h in header]
    if not header or all(not h for h in header):
        raise MalformedInput(path, 1, "the header row is empty")
    for i, name in enumerate(header):
        if not name:
            raise MalformedInput(path, 1, f"column {i + 1} of the header has no name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise MalformedInput(path, 1, f"duplicate column names: {', '.join(dupes)}")
    return header


def _read_delimited(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise MalformedInput(path, None, f"cannot be read: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise MalformedInput(path, None, "the file is empty")
            header = _check_header(path, header)
            rows = []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != len(header):
                    raise MalformedInput(path, reader.line_num,
                                         f"row has {len(row)} fields but the header has {len(header)}")
                rows.append(row)
        except csv.Error as exc:
            raise MalformedInput(path, reader.line_num, f"not valid {'CSV' if delimiter == ',' else 'TSV'}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise MalformedInput(path, reader.line_num + 1, f"not UTF-8 text ({exc.reason})") from None
    return header, rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_excel(path: Path) -> tuple[list[str], list[list[str]]]:
    import openpyxl
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise MalformedInput(path, None, f"not a readable Excel workbook ({exc})") from None
    sheet = book.worksheets[0]
    rows_iter = sheet.iter_rows(values_only=True)
    header_raw = next(rows_iter, None)
    if header_raw is None:
        raise MalformedInput(path, None, "the first sheet is empty")
    while header_raw and header_raw[-1] is None:
        header_raw = header_raw[:-1]
    header = _check_header(path, [_cell(v) for v in header_raw])
    rows = []
    for line, raw in enumerate(rows_iter, start=2):
        values = list(raw)
        if all(v is None for v in values):
            continue
        extra = [v for v in values[len(header):] if v is not None]
        if extra:
            raise MalformedInput(path, line, f"row has values beyond the {len(header)} named columns")
        values = (values + [None] * len(header))[:len(header)]
        rows.append([_cell(v) for v in values])
    book.close()
    return header, rows


def infer_column(values: pl.Series) -> tuple[pl.Series, str]:
    """The narrowest type every non-empty value fits: integer, float, boolean, date, else string."""
    s = values.str.strip_chars()
    s = pl.Series(values.name, [None if v == "" else v for v in s.to_list()], dtype=pl.Utf8)
    present = s.drop_nulls()
    if present.len() == 0:
        return s, "string"
    # "007" is a code, not the number 7: leading zeros keep a column textual.
    if present.str.contains(r"^[+-]?0\d").any():
        return s, "string"
    for dtype, name in ((pl.Int64, "integer"), (pl.Float64, "float")):
        try:
            return s.cast(dtype, strict=True), name
        except Exception:
            pass
    lowered = present.str.to_lowercase()
    if lowered.is_in(list(TRUE_WORDS | FALSE_WORDS)).all():
        return pl.Series(s.name, [None if v is None else v.lower() in TRUE_WORDS for v in s.to_list()],
                         dtype=pl.Boolean), "boolean"
    try:
        return s.str.to_date("%Y-%m-%d", strict=True), "date"
    except Exception:
        pass
    return s, "string"


def to_frame(header: list[str], rows: list[list[str]]) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    columns, types = [], []
    for i, name in enumerate(header):
        series, typ = infer_column(pl.Series(name, [r[i] for r in rows], dtype=pl.Utf8))
        columns.append(series)
        types.append((name, typ))
    return pl.DataFrame(columns), types


def ingest_clinical(state: StateFolder, path: Path, dataset_id: str, version: str,
                    dictionary_file: Path | None = None, source_project: str | None = None,
                    description: str = "") -> DatasetVersion:
    path = Path(path)
    if not path.is_file():
        raise MalformedInput(path, None, "does not exist or is not a file")
    header, rows = read_rows(path)
    frame, types = to_frame(header, rows)
    given = read_dictionary_file(dictionary_file) if dictionary_file else None
    if given:
        unknown = sorted(set(given) - set(header))
        if unknown:
            raise MalformedInput(dictionary_file, None, f"describes columns the table does not have: {', '.join(unknown)}")
    infos = build_dictionary(types, given)
    participant = _first(infos, "participant")
    sample = _first(infos, "sample")
    with draft_version(state, dataset_id, version, "clinical", source_project) as draft:
        draft.add_input(path)
        if dictionary_file:
            draft.add_input(Path(dictionary_file))
        frame.write_parquet(draft.path / TABLE, compression="zstd")
        draft.meta.update({
            "description": description,
            "rows": frame.height,
            "tables": {"table": {"file": TABLE, "rows": frame.height}},
            "dictionary": [c.as_dict() for c in infos],
            "participant_column": participant,
            "sample_column": sample,
        })
    from .catalog import Catalog
    return Catalog(state).resolve(dataset_id, version)


def _first(infos: list[ColumnInfo], namespace: str) -> str | None:
    return next((c.name for c in infos if c.role == "identifier" and c.namespace == namespace), None)
