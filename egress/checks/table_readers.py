"""Reading tables out of files (CSV/TSV, Parquet, Excel, HTML) as polars DataFrames of strings.

Every reader returns strings so that one set of checks serves every source; the checks parse
numbers themselves and so see exactly what a reader of the file sees.
"""

from __future__ import annotations

import io

import polars as pl

from cirn.errors import CirnError


class TableReadError(CirnError):
    """The bytes claim to be a table but cannot be read as one."""


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = (name or "").strip() or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def frame_from_rows(header: list[str], rows: list[list[str | None]]) -> pl.DataFrame:
    width = max([len(header)] + [len(r) for r in rows]) if rows or header else 0
    header = _dedupe(list(header) + [""] * (width - len(header)))
    data = {name: [(r[i] if i < len(r) else None) for r in rows] for i, name in enumerate(header)}
    return pl.DataFrame(data, schema={name: pl.Utf8 for name in header})


def read_delimited(data: bytes, delimiter: str) -> pl.DataFrame:
    try:
        return pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, truncate_ragged_lines=True,
                           encoding="utf8-lossy", ignore_errors=True, quote_char='"')
    except Exception as exc:  # polars raises several error types for malformed text
        raise TableReadError(f"not a readable {('tab' if delimiter == chr(9) else repr(delimiter))}-separated table: {exc}".splitlines()[0]) from None


def _as_strings(df: pl.DataFrame) -> pl.DataFrame:
    return df.select([pl.col(c).cast(pl.Utf8, strict=False) if df[c].dtype.is_numeric() or df[c].dtype == pl.Boolean
                      else pl.col(c).cast(pl.Utf8, strict=False) for c in df.columns])


def read_parquet(data: bytes) -> pl.DataFrame:
    try:
        import pyarrow.parquet as pq
        table = pq.read_table(io.BytesIO(data))
        df = pl.from_arrow(table)
    except Exception as exc:
        raise TableReadError(f"not a readable Parquet file: {exc}".splitlines()[0]) from None
    try:
        return _as_strings(df)
    except Exception:  # nested types: keep their text form
        return pl.DataFrame({c: [str(v) for v in df[c].to_list()] for c in df.columns})


def read_excel(data: bytes) -> dict[str, pl.DataFrame]:
    import openpyxl
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise TableReadError(f"not a readable Excel workbook: {exc}".splitlines()[0]) from None
    sheets = {}
    try:
        for ws in wb.worksheets:
            rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
            rows = [r for r in rows if any(cell.strip() for cell in r)]
            if not rows:
                continue
            sheets[ws.title] = frame_from_rows(rows[0], rows[1:])
    finally:
        wb.close()
    return sheets


def workbook_hidden_parts(data: bytes) -> list[str]:
    """Sheets a reader of the workbook does not see (hidden, very hidden)."""
    import openpyxl
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    except Exception:
        return []
    hidden = [ws.title for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") != "visible"]
    wb.close()
    return hidden


def read_html_tables(html: str) -> list[pl.DataFrame]:
    """Every <table> in an HTML document: header from <th> rows (or the first row)."""
    import lxml.html
    try:
        root = lxml.html.fromstring(html)
    except Exception:  # lxml refuses empty or odd documents; nothing to read as a table
        return []
    frames = []
    for table in root.iter("table"):
        head_rows, body_rows = [], []
        for tr in table.iter("tr"):
            cells = [c for c in tr if c.tag in ("th", "td")]
            values = [" ".join(c.text_content().split()) for c in cells]
            in_thead = any(a.tag == "thead" for a in tr.iterancestors())
            if in_thead or (not body_rows and cells and all(c.tag == "th" for c in cells)):
                head_rows.append(values)
            else:
                body_rows.append(values)
        if not head_rows and body_rows:
            head_rows, body_rows = [body_rows[0]], body_rows[1:]
        if not head_rows:
            continue
        width = max(len(r) for r in head_rows + body_rows)
        # pandas writes the index name in a second header row; merge header rows column by column
        header = [" ".join(filter(None, (r[i] if i < len(r) else "" for r in head_rows))) for i in range(width)]
        frames.append(frame_from_rows(header, body_rows))
    return frames


def frame_to_text(df: pl.DataFrame) -> str:
    """CSV text of a table, for the checks that read text (identifiers, PII)."""
    return df.write_csv()
