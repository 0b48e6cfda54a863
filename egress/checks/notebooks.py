"""Notebooks read with nbformat, every channel: sources, every output and MIME type (the data of
plotly and vega charts read as tables too), tracebacks, cell and notebook metadata, attachments,
widget state. A finding in a channel a reader of the rendered notebook would not see gets an
extra `hidden-content` finding."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import nbformat

from .chart_data import chart_tables
from .context import ScanContext
from .findings import Finding, Verdict
from .locations import LineIndex
from .table_readers import frame_from_rows, read_html_tables
from .text import scan_text

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RICH_MIMES = ("text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif", "image/svg+xml")
CHART_MIME = re.compile(r"^application/vnd\.(plotly|vega|vegalite|bokeh|holoviews)", re.I)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# what JupyterLab renders (and the channels this module makes: sources, streams, metadata); an
# output under any other MIME type shows nothing or a placeholder, so it is held for a person
SHOWN_MIMES = {"text/plain", "text/html", "text/markdown", "text/latex", "text/x-source", "application/json",
               "application/javascript", "application/vnd.dataresource+json", "image/png", "image/jpeg", "image/gif",
               "image/webp", "image/bmp", "image/svg+xml", WIDGET_MIME}


class NotebookUnreadable(ValueError):
    pass


@dataclass(frozen=True)
class Channel:
    """One place in a notebook that holds content: where it is, what it holds, who sees it."""

    location: str
    mime: str
    content: str
    hidden: str | None = None  # the hidden-content check name, or None when a reader sees it


def read_notebook(data: bytes) -> nbformat.NotebookNode:
    try:
        text = data.decode("utf-8-sig")
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookUnreadable(f"not valid notebook JSON ({exc})") from None
    if not isinstance(raw, dict) or "cells" not in raw:
        raise NotebookUnreadable("JSON without a 'cells' list is not a notebook")
    try:
        if raw.get("nbformat") == 4:
            # nbformat's schema validation costs seconds on a large notebook and changes nothing
            # here: every channel is read whether or not the schema likes it
            return nbformat.from_dict(raw)
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises assorted errors for malformed structure
        raise NotebookUnreadable(f"nbformat cannot read it ({exc})") from None


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, (dict, int, float, bool)) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def channels(nb: nbformat.NotebookNode) -> Iterator[Channel]:
    if nb.get("metadata"):
        yield Channel("notebook metadata", "application/json", json.dumps(nb.metadata, ensure_ascii=False, indent=1),
                      "hidden-content.notebook-metadata")
        widgets = nb.metadata.get("widgets")
        if widgets:
            yield Channel("notebook metadata, widget state", "application/json", json.dumps(widgets, ensure_ascii=False),
                          "hidden-content.widget-state")
    for ci, cell in enumerate(nb.get("cells", []), start=1):
        meta = cell.get("metadata", {}) or {}
        jupyter = meta.get("jupyter", {}) or {}
        source_hidden = bool(jupyter.get("source_hidden") or meta.get("hidden"))
        outputs_hidden = bool(jupyter.get("outputs_hidden") or meta.get("collapsed"))
        where = f"cell {ci}"
        yield Channel(f"{where}, source", "text/x-source", _text(cell.get("source", "")),
                      "hidden-content.hidden-source" if source_hidden else None)
        if meta:
            yield Channel(f"{where}, metadata", "application/json", json.dumps(meta, ensure_ascii=False, indent=1),
                          "hidden-content.cell-metadata")
        for name, bundle in (cell.get("attachments") or {}).items():
            for mime, payload in (bundle or {}).items():
                yield Channel(f"{where}, attachment '{name}', {mime}", mime, _decode_attachment(mime, payload), None)
        for oi, output in enumerate(cell.get("outputs", []) or [], start=1):
            yield from _output_channels(output, f"{where}, output {oi}",
                                        "hidden-content.hidden-output" if outputs_hidden else None)


def _decode_attachment(mime: str, payload) -> str:
    if mime.startswith("image/") and mime != "image/svg+xml":
        return _text(payload)
    try:
        return base64.b64decode(_text(payload)).decode("utf-8", "replace")
    except Exception:
        return _text(payload)


def _output_channels(output, where: str, hidden: str | None) -> Iterator[Channel]:
    kind = output.get("output_type")
    if kind == "stream":
        yield Channel(f"{where}, {output.get('name', 'stream')}", "text/plain", _text(output.get("text", "")), hidden)
    elif kind == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}\n" + ANSI.sub("", "\n".join(output.get("traceback", []) or []))
        yield Channel(f"{where}, error", "text/plain", text, hidden)
    elif kind in ("execute_result", "display_data", "update_display_data"):
        data = output.get("data", {}) or {}
        rich = any(m in data for m in RICH_MIMES)
        for mime, value in data.items():
            channel_hidden = hidden
            if not channel_hidden:
                if mime == "text/plain" and rich:
                    channel_hidden = "hidden-content.alternate-mime"  # the richer form is what shows
                elif CHART_MIME.match(mime):
                    channel_hidden = "hidden-content.chart-data"
                elif mime == WIDGET_MIME:
                    channel_hidden = "hidden-content.widget-state"
            yield Channel(f"{where}, {mime}", mime, _text(value), channel_hidden)
        if output.get("metadata"):
            yield Channel(f"{where}, metadata", "application/json", json.dumps(output.metadata, ensure_ascii=False),
                          "hidden-content.output-metadata")


PANDAS_FOOTER = re.compile(r"^(Name: .*dtype: \w+|dtype: \w+|\[\d+ rows x \d+ columns\])$")


def parse_text_table(text: str):
    """A pandas DataFrame or Series as printed (`print(df)`, `value_counts()`), or None."""
    lines = [ln.rstrip() for ln in text.strip("\n").splitlines() if ln.strip()]
    footer_name = None
    while lines and PANDAS_FOOTER.match(lines[-1].strip()):
        m = re.match(r"Name: ([^,]+),", lines[-1].strip())
        footer_name = m.group(1) if m else footer_name
        lines.pop()
    if len(lines) < 2 or len(lines) > 5000:
        return None
    if footer_name is None and any(len(re.split(r"\s{2,}", ln.strip())) < 2 for ln in lines[1:4]):
        return None  # prose, not an aligned table: decided on a few lines, not all of them
    pairs = [re.split(r"\s{2,}", ln.strip()) for ln in lines]
    if footer_name is not None or all(len(p) == 2 for p in pairs):
        body = [p for p in pairs if len(p) == 2]
        if len(body) >= 2 and len(body) >= len(pairs) - 1 and all(re.fullmatch(r"-?[\d.,]+", p[1]) for p in body):
            return frame_from_rows(["label", footer_name or "value"], body)
    header = lines[0].split()
    rows = [ln.split() for ln in lines[1:]]
    rows = [r for r in rows if len(r) != 1]  # the index-name line pandas prints under the header
    if len(rows) >= 2 and all(len(r) == len(header) + 1 for r in rows):
        return frame_from_rows(["index"] + header, rows)
    return None


TYPED_ARRAY = re.compile(r'("bdata"\s*:\s*")([A-Za-z0-9+/=]+)(")')


def _blank_typed_arrays(content: str) -> str:
    """A chart's JSON with plotly's base64 typed arrays blanked (same length, so offsets hold):
    their numbers are read as tables (`chart_data`), so they are understood, not an encoded run
    to hold. One that decodes to text rather than numbers is left for the encoded-run check."""
    from .encoded import worth_scanning

    def blank(m: re.Match) -> str:
        try:
            raw = base64.b64decode(m.group(2), validate=True)
        except ValueError:
            return m.group(0)
        return m.group(0) if worth_scanning(raw) else m.group(1) + " " * len(m.group(2)) + m.group(3)

    return TYPED_ARRAY.sub(blank, content) if '"bdata"' in content else content


def scan_notebook(data: bytes, ctx: ScanContext) -> list[Finding]:
    try:
        nb = read_notebook(data)
    except NotebookUnreadable as exc:
        return [Finding("blocked-type.unreadable-notebook", Verdict.BLOCK, "file",
                        f"the notebook cannot be read, so it cannot be checked: {exc}")]
    findings: list[Finding] = []
    for channel in channels(nb):
        found = _scan_channel(channel, ctx)
        findings += found
        if channel.mime.lower() not in SHOWN_MIMES and not CHART_MIME.match(channel.mime):
            findings.append(Finding("hidden-content.unknown-mime", Verdict.REVIEW, channel.location,
                                    f"content under the MIME type {channel.mime!r}, which a reader of the notebook does not see "
                                    "as it is; its text (and any base64 in it, decoded) was checked"))
        if channel.hidden:
            for f in found:
                findings.append(Finding(channel.hidden, Verdict.REVIEW, f.location,
                                        f"{f.check} found where a reader of the notebook would not see it"))
    return findings


def _scan_channel(channel: Channel, ctx: ScanContext) -> list[Finding]:
    mime, where, content = channel.mime, channel.location, channel.content
    if mime == "image/svg+xml":
        return [Finding("image.vector-coordinates", Verdict.BLOCK, where,
                        "a vector figure holds the exact coordinates of every point; export it as PNG")]
    if mime.startswith("image/"):
        return [Finding("image.raster", Verdict.REVIEW, where, "a figure: a person must look at every image")]
    if not content.strip():
        return []
    lines = LineIndex(content)
    checked = _blank_typed_arrays(content) if CHART_MIME.match(mime) else content
    findings = scan_text(checked, ctx, lambda off: f"{where}, {lines.text_location(off)}")
    if mime == "text/html" and "<table" in content.lower():
        tables = read_html_tables(content)
        for ti, df in enumerate(tables, start=1):
            prefix = where if len(tables) == 1 else f"{where}, table {ti}"
            findings += ctx.tables.check(df, prefix)
    elif CHART_MIME.match(mime):
        for part, df in chart_tables(mime, content):
            findings += ctx.tables.check(df, f"{where}, {part}")
    elif mime == "text/plain" or channel.location.endswith(("stdout", "stderr")):
        df = parse_text_table(content)
        if df is not None:
            findings += ctx.tables.check(df, where)
    return findings
