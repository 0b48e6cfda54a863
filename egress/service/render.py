"""Per-file views for reviewers: notebooks through nbconvert (sanitised, no scripts) with findings
marked at their cell, tables with flagged cells highlighted, images shown, text with the finding
spans highlighted. Everything returned is HTML safe to put in a page (escaped or sanitised)."""

from __future__ import annotations

import csv
import html
import io
import re

CELL_RE = re.compile(r"^cell (\d+)")
ROW_RE = re.compile(r"^row (\d+), column '(.*)'$")
HEADER_RE = re.compile(r"^header, column '(.*)'$")
LINE_RE = re.compile(r"^line (\d+), col (\d+)")
MAX_ROWS = 1000
MAX_TEXT = 2_000_000
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
               "svg": "image/svg+xml", "webp": "image/webp"}


def image_type(path: str) -> str | None:
    return IMAGE_TYPES.get(path.rsplit(".", 1)[-1].lower()) if "." in path else None


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp949"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _sanitise(markup: str) -> str:
    """Drop scripts, event handlers, javascript: URLs, frames and external fetches."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(["script", "iframe", "object", "embed", "link", "meta", "base", "form", "noscript"]):
        tag.decompose()
    for tag in soup.find_all(True):
        for attr in list(tag.attrs):
            value = str(tag.attrs[attr])
            if attr.lower().startswith("on") or (attr.lower() in ("href", "src", "action", "xlink:href")
                                                 and not value.startswith(("#", "data:image/"))):
                del tag.attrs[attr]
    body = soup.body
    return "".join(str(c) for c in body.contents) if body else str(soup)


def render_notebook(data: bytes, findings: list[dict]) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.reads(_decode(data), as_version=4)
    by_cell: dict[int, list[dict]] = {}
    for f in findings:
        m = CELL_RE.match(f.get("location", ""))
        if m:
            by_cell.setdefault(int(m.group(1)), []).append(f)
    cells = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            # Scripts never run here; without them nbconvert shows the HTML or text form instead.
            for mime in [m for m in data if "javascript" in m or "widget" in m]:
                del data[mime]
    for i, cell in enumerate(nb.cells, start=1):
        if i in by_cell:
            lines = "\n".join(f"- **{f['severity'].upper()}** `{f['check']}` at {f['location']}: "
                              f"{html.escape(f['message'])}" for f in by_cell[i])
            cells.append(nbformat.v4.new_markdown_cell(f"<div class='cirn-finding'>\n\n⚠ Findings in cell {i}:\n\n"
                                                       f"{lines}\n\n</div>"))
        cells.append(cell)
    nb.cells = cells
    exporter = HTMLExporter(template_name="basic", sanitize_html=True, exclude_anchor_links=True)
    body, _ = exporter.from_notebook_node(nb)
    return f"<div class='cirn-notebook'>{_sanitise(body)}</div>"


def render_table(data: bytes, path: str, findings: list[dict]) -> str:
    text = _decode(data)
    delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    rows = list(_rows(text, delimiter))
    if not rows:
        return "<p>(empty table)</p>"
    header = rows[0]
    flagged: dict[tuple[int, str], list[dict]] = {}
    for f in findings:
        loc = f.get("location", "")
        m = ROW_RE.match(loc)
        if m:
            flagged.setdefault((int(m.group(1)), m.group(2)), []).append(f)
        m = HEADER_RE.match(loc)
        if m:
            flagged.setdefault((0, m.group(1)), []).append(f)

    def cell(row_no: int, col: str, value: str, tag: str) -> str:
        hits = flagged.get((row_no, col))
        if not hits:
            return f"<{tag}>{html.escape(value)}</{tag}>"
        sev = "block" if any(h["severity"] == "block" for h in hits) else "review"
        tip = html.escape("; ".join(f"{h['check']}: {h['message']}" for h in hits))
        return f"<{tag} class='cirn-flag cirn-{sev}' title='{tip}'>{html.escape(value)}</{tag}>"

    out = ["<table class='table table-sm table-bordered cirn-table'><thead><tr><th>#</th>"]
    out += [cell(0, h, h, "th") for h in header]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows[1:MAX_ROWS + 1], start=1):
        names = header + [f"#{k + 1}" for k in range(len(header), len(row))]
        out.append(f"<tr><td>{i}</td>" + "".join(cell(i, names[k], v, "td") for k, v in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) - 1 > MAX_ROWS:
        out.append(f"<p class='text-muted'>{len(rows) - 1 - MAX_ROWS} more rows not shown.</p>")
    return "".join(out)


def _rows(text: str, delimiter: str):
    try:
        yield from csv.reader(io.StringIO(text), delimiter=delimiter)
    except csv.Error:
        return


def render_text(data: bytes, findings: list[dict]) -> str:
    text = _decode(data[:MAX_TEXT])
    marks: dict[int, list[tuple[int, dict]]] = {}
    for f in findings:
        m = LINE_RE.match(f.get("location", ""))
        if m:
            marks.setdefault(int(m.group(1)), []).append((int(m.group(2)), f))
    out = ["<pre class='cirn-text'>"]
    for n, line in enumerate(text.splitlines(), start=1):
        hits = sorted(marks.get(n, []), key=lambda h: h[0])
        if not hits:
            out.append(f"<span class='ln'>{n:>5}</span> {html.escape(line)}\n")
            continue
        rendered, pos = [], 0
        for col, f in hits:
            start = max(col - 1, pos)
            end = start
            while end < len(line) and not line[end].isspace():
                end += 1
            end = max(end, min(start + 1, len(line)))
            rendered.append(html.escape(line[pos:start]))
            tip = html.escape(f"{f['check']}: {f['message']}")
            rendered.append(f"<mark class='cirn-{f['severity']}' title='{tip}'>{html.escape(line[start:end])}</mark>")
            pos = end
        rendered.append(html.escape(line[pos:]))
        out.append(f"<span class='ln cirn-flag-line'>{n:>5}</span> {''.join(rendered)}\n")
    out.append("</pre>")
    return "".join(out)


def render(path: str, kind: str | None, data: bytes, findings: list[dict], raw_url: str) -> str:
    lower = path.lower()
    if lower.endswith(".ipynb") or kind == "notebook":
        try:
            return render_notebook(data, findings)
        except Exception as exc:
            return f"<p class='text-danger'>The notebook could not be rendered ({html.escape(type(exc).__name__)}).</p>"
    if image_type(path) and image_type(path) != "image/svg+xml":
        return f"<img class='cirn-image' alt='{html.escape(path)}' src='{html.escape(raw_url)}'>"
    if kind == "table" and lower.endswith((".csv", ".tsv", ".tab", ".txt")):
        return render_table(data, path, findings)
    if kind in ("text", "table", None) or lower.endswith((".txt", ".md", ".csv", ".tsv", ".json", ".html", ".svg", ".log")):
        return render_text(data, findings)
    return (f"<p class='text-muted'>No preview for a {html.escape(kind or 'binary')} file "
            f"({len(data)} bytes); the findings above are what the checks saw.</p>")
