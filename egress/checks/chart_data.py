"""The data a chart plots, as tables: plotly figures (`data[i].x/y/z/text/customdata`, pie
`labels/values`) and vega / vega-lite specs (`data.values`, named `datasets`, vega's `data` list).

A chart in a notebook output carries every plotted number in its JSON, so a bar chart of counts
is a table of counts. Each table comes with where it sits in the chart ("trace 0",
"dataset 'counts'"); the table checks add the row and column.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import numpy as np
import polars as pl

from .table_readers import frame_from_rows

PLOTLY_MIME = re.compile(r"^application/vnd\.plotly\.v\d+\+json$", re.I)
VEGA_MIME = re.compile(r"^application/vnd\.vega(lite)?\.v\d+(\.\d+)*\+json$", re.I)
# Trace attributes that hold one value per plotted point.
PLOTLY_COLUMNS = ("x", "y", "z", "text", "hovertext", "customdata", "labels", "values", "ids",
                  "lat", "lon", "locations", "r", "theta", "a", "b", "c", "open", "high", "low", "close")
MAX_TABLES = 200  # charts with more traces than this are checked on their first ones only


def chart_tables(mime: str, content: str) -> Iterator[tuple[str, pl.DataFrame]]:
    """(where in the chart, table) for each table of plotted data; nothing for other MIME types
    or JSON that is not a chart."""
    if not (PLOTLY_MIME.match(mime) or VEGA_MIME.match(mime)):
        return
    try:
        spec = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return
    tables = _plotly_tables(spec) if PLOTLY_MIME.match(mime) else _vega_tables(spec)
    for count, (where, df) in enumerate(tables):
        if count >= MAX_TABLES:
            return
        if df.height and df.width:
            yield where, df


# -- plotly ------------------------------------------------------------------------------------

def _plotly_tables(figure) -> Iterator[tuple[str, pl.DataFrame]]:
    traces = figure.get("data") if isinstance(figure, dict) else None
    if not isinstance(traces, list):
        return
    for ti, trace in enumerate(traces):
        if not isinstance(trace, dict):
            continue
        columns: dict[str, list] = {}
        for key in PLOTLY_COLUMNS:
            values = _plotly_array(trace.get(key))
            if values is None:
                continue
            if values and all(isinstance(v, list) for v in values):
                if key == "z":  # a heatmap: the matrix is a cross-table of its own
                    yield from _matrix(f"trace {ti}", values, _plotly_array(trace.get("x")), _plotly_array(trace.get("y")))
                    continue
                width = max(len(v) for v in values)  # customdata: several values per point
                for j in range(width):
                    columns[f"{key}[{j}]"] = [v[j] if j < len(v) else None for v in values]
            else:
                columns[key] = values
        if columns:
            yield f"trace {ti}", _frame(columns)


def _plotly_array(value) -> list | None:
    """A trace attribute as a list: plain JSON arrays, or plotly's typed arrays
    ({"dtype": "i4", "bdata": base64, "shape": "2, 3"}) that plotly 6 writes for numpy data."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        try:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
            shape = value.get("shape")
            if shape:
                array = array.reshape([int(s) for s in str(shape).split(",")])
            return array.tolist()
        except (ValueError, TypeError):
            return None
    return None


def _matrix(where: str, rows: list[list], x: list | None, y: list | None) -> Iterator[tuple[str, pl.DataFrame]]:
    width = max(len(r) for r in rows)
    names = [str(v) for v in x] if x and len(x) == width else [f"z[{j}]" for j in range(width)]
    header = (["y"] if y and len(y) == len(rows) else []) + names
    body = [([_cell(y[i])] if len(header) > width else []) + [_cell(v) for v in row] for i, row in enumerate(rows)]
    yield f"{where}, z", frame_from_rows(header, body)


# -- vega / vega-lite ------------------------------------------------------------------------

def _vega_tables(spec) -> Iterator[tuple[str, pl.DataFrame]]:
    """Inline data anywhere in the spec (layers, concatenations and facets carry their own)."""
    seen: set[int] = set()

    def walk(node, path: str) -> Iterator[tuple[str, pl.DataFrame]]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, path)
            return
        if not isinstance(node, dict):
            return
        data = node.get("data")
        for name, values in _inline_data(data):
            if id(values) not in seen:
                seen.add(id(values))
                where = f"dataset '{name}'" if name else "data"
                yield (f"{path}, {where}" if path else where), _records(values)
        for name, values in (node.get("datasets") or {}).items() if isinstance(node.get("datasets"), dict) else ():
            if isinstance(values, list) and id(values) not in seen:
                seen.add(id(values))
                yield (f"{path}, dataset '{name}'" if path else f"dataset '{name}'"), _records(values)
        for key in ("layer", "hconcat", "vconcat", "concat", "spec"):
            child = node.get(key)
            if isinstance(child, list):
                for i, item in enumerate(child):
                    yield from walk(item, f"{path}, {key} {i}" if path else f"{key} {i}")
            elif isinstance(child, dict):
                yield from walk(child, f"{path}, {key}" if path else key)

    yield from walk(spec, "")


def _inline_data(data) -> Iterator[tuple[str | None, list]]:
    if isinstance(data, dict) and isinstance(data.get("values"), list):
        yield data.get("name"), data["values"]
    elif isinstance(data, list):  # vega: a list of named data sets
        for entry in data:
            if isinstance(entry, dict) and isinstance(entry.get("values"), list):
                yield entry.get("name"), entry["values"]


def _records(values: list) -> pl.DataFrame:
    """Rows of a data set: objects by key (in order of first appearance), or bare values."""
    if values and all(isinstance(v, dict) for v in values):
        header: dict[str, None] = {}
        for record in values:
            header.update(dict.fromkeys(record))
        names = list(header)
        return frame_from_rows(names, [[_cell(record.get(k)) for k in names] for record in values])
    return frame_from_rows(["value"], [[_cell(v)] for v in values])


# -- shared ----------------------------------------------------------------------------------

def _frame(columns: dict[str, list]) -> pl.DataFrame:
    height = max(len(v) for v in columns.values())
    names = list(columns)
    return frame_from_rows(names, [[_cell(columns[n][i]) if i < len(columns[n]) else None for n in names]
                                   for i in range(height)])


def _cell(value) -> str | None:
    """A plotted value as the table checks read cells: text, numbers without a trailing '.0'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
