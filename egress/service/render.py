"""Per-file views for reviewers: notebooks through nbconvert (sanitised, no scripts) with findings
marked at their cell and every attachment and representation listed, tables with flagged cells
highlighted, images shown, text with the finding spans highlighted, documents as their text,
archives as the list of their members, each drawn in turn. Which view a file gets is decided by
cirn.egress.review.previews (the desk holds what has none); a view that shows only part says so.
Everything returned is HTML safe to put in a page (escaped or sanitised)."""

from __future__ import annotations

import base64
import binascii
import csv
import html
import io
import re

from cirn.egress.review import previews
from cirn.egress.review.previews import MAX_ROWS, MAX_TEXT, Part

CELL_RE = re.compile(r"^cell (\d+)")
ROW_RE = re.compile(r"^row (\d+), column '(.*)'$")
HEADER_RE = re.compile(r"^header, column '(.*)'$")
LINE_RE = re.compile(r"^line (\d+), col (\d+)")
MAX_PAGES = 2000  # of a PDF drawn as text, as many as the checks read (cirn.egress.checks.pdf_text)
# The representations nbconvert's HTML exporter picks from, best first (its display_data_priority).
NBCONVERT_PRIORITY = ("text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg",
                      "text/markdown", "text/plain")


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
    extras = notebook_extras(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            # Scripts never run here; without them nbconvert shows the HTML or text form instead
            # (their text is listed with the other representations, below the notebook).
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
    return f"<div class='cirn-notebook'>{_sanitise(body)}</div>{extras}"


def _shown_representation(data: dict) -> str | None:
    return next((m for m in NBCONVERT_PRIORITY if m in data), None)


def _representation(mime: str, payload) -> str:
    """One attachment or output representation, drawn as itself when it is a raster image and
    as escaped text otherwise (never as markup: this part of the page is not sanitised)."""
    text = "".join(payload) if isinstance(payload, list) else payload
    if not isinstance(text, str):
        import json
        text = json.dumps(text, ensure_ascii=False, indent=1)
    fmt = next((k for k, v in previews.IMAGE_TYPES.items() if v == mime), None)
    if fmt:
        try:
            raw = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if raw and previews.part_of(raw, f"x.{fmt}").view == "image":
            return f"<img class='cirn-image' alt='{html.escape(mime)}' src='data:{mime};base64,{base64.b64encode(raw).decode()}'>"
    return f"<pre class='cirn-text'>{html.escape(text)}</pre>"


def notebook_extras(nb) -> str:
    """Every cell attachment, and every output representation nbconvert does not draw (the ones
    of lower priority than the one shown, custom MIME types, scripts and widget state): the
    reviewer sees all that the file would carry out, not only its rendered face."""
    rows = []
    for i, cell in enumerate(nb.cells, start=1):
        for name, bundle in (cell.get("attachments") or {}).items():
            for mime, payload in (bundle or {}).items():
                rows.append((f"cell {i}, attachment {name!r}", mime, payload))
        for k, output in enumerate(cell.get("outputs", []) or [], start=1):
            data = output.get("data") or {}
            shown = _shown_representation(data)
            for mime, payload in data.items():
                if mime != shown:
                    rows.append((f"cell {i}, output {k}", mime, payload))
            if output.get("metadata"):
                rows.append((f"cell {i}, output {k}", "metadata", output["metadata"]))
    if not rows:
        return ""
    out = [f"<section class='cirn-extras' id='notebook-extras'><h2 class='h6 mt-4'>Attachments and other "
           f"representations ({len(rows)}), not drawn above</h2>"]
    for where, mime, payload in rows:
        out.append(f"<div class='cirn-extra'><div><strong>{html.escape(where)}</strong> · <code>{html.escape(mime)}"
                   f"</code></div>{_representation(mime, payload)}</div>")
    out.append("</section>")
    return "".join(out)


def render_table(data: bytes, path: str, findings: list[dict]) -> str:
    """The table, or its text view (saying why) when it cannot be read as a table."""
    text = _decode(data)
    delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        return (f"<p class='alert alert-warning cirn-fallback'>This file cannot be read as a table ({html.escape(str(exc))}); "
                "it is shown as text instead.</p>" + render_text(data, findings))
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
        out.insert(0, _truncation(f"the first {MAX_ROWS} of its {len(rows) - 1} rows"))
    return "".join(out)


def _truncation(what: str) -> str:
    return (f"<p class='alert alert-warning cirn-truncated'>This view shows only {what}; the rest is not shown "
            "here. Approving the file needs a written override reason.</p>")


def render_text(data: bytes, findings: list[dict]) -> str:
    text = _decode(data)
    notice = ""
    if len(text) > MAX_TEXT:
        notice = _truncation(f"the first {MAX_TEXT} of its {len(text)} characters")
        text = text[:MAX_TEXT]
    marks: dict[int, list[tuple[int, dict]]] = {}
    for f in findings:
        m = LINE_RE.match(f.get("location", ""))
        if m:
            marks.setdefault(int(m.group(1)), []).append((int(m.group(2)), f))
    out = [notice, "<pre class='cirn-text'>"]
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


def document_text(data: bytes, fmt: str) -> list[tuple[str, str]]:
    """(where, text) of a PDF's pages or an office document's parts."""
    if fmt == "pdf":
        import logging

        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns for every flaw it repairs
        reader = PdfReader(io.BytesIO(data))
        pages = list(reader.pages)
        out = [(f"page {n}", page.extract_text() or "") for n, page in enumerate(pages[:MAX_PAGES], start=1)]
        if len(pages) > MAX_PAGES:
            out.append(("", f"[only the first {MAX_PAGES} of {len(pages)} pages are shown]"))
        return out
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = sorted(n for n in zf.namelist() if n.endswith(".xml") and not n.startswith(("[Content_Types]", "_rels/")))
        out = []
        for part in parts:
            xml = zf.read(part).decode("utf-8", "replace")
            text = re.sub(r"<[^>]+>", " ", re.sub(r"</w:p>|</a:p>|</w:tr>", "\n", xml))
            text = "\n".join(" ".join(line.split()) for line in html.unescape(text).splitlines())
            if text.strip():
                out.append((part, text.strip()))
        return out


def render_document(data: bytes, fmt: str, findings: list[dict]) -> str:
    """The document's text, part by part (figures and embedded objects are not drawn: the checks
    hold every document for review for that reason)."""
    try:
        parts = document_text(data, fmt)
    except Exception as exc:  # a damaged document: the findings say it could not be read
        return f"<p class='text-danger'>The document could not be read ({html.escape(type(exc).__name__)}).</p>"
    out = ["<p class='text-muted'>The text of the document; figures and embedded objects are not drawn.</p>"]
    for where, text in parts:
        out.append(f"<h3 class='h6 mt-3'>{html.escape(where)}</h3>" if where else "")
        hits = [f for f in findings if f.get("location", "").startswith(f"{where}, ")] if where else []
        located = [dict(f, location=f["location"][len(where) + 2:]) for f in hits]
        out.append(render_text(text.encode("utf-8"), located))
    return "<div class='cirn-document'>" + "".join(out) + "</div>"


def render_archive(part: Part, findings: list[dict], policy, depth: int) -> str:
    """The members of an archive, listed, then each drawn with its own findings."""
    inner, problems = previews.members(part, policy)
    out = [f"<div class='cirn-archive' data-archive='{html.escape(part.label)}'>",
           f"<p>{len(inner)} member{'' if len(inner) == 1 else 's'}:</p><ul class='cirn-members'>"]
    for m in inner:
        name = m.label.rsplit("!/", 1)[-1]
        out.append(f"<li data-member='{html.escape(name)}'><code>{html.escape(name)}</code> · {len(m.data)} bytes · "
                   f"{html.escape(m.fmt or m.kind)}{'' if m.view else ' · <strong>no preview</strong>'}</li>")
    out.append("</ul>")
    for p in problems:
        out.append(f"<p class='text-danger'>{html.escape(p)}</p>")
    for m in inner:
        mine = [f for f in findings if f.get("file") == m.label]
        out.append(f"<section class='cirn-member' data-member='{html.escape(m.label.rsplit('!/', 1)[-1])}'>"
                   f"<h3 class='h6 mt-3'><code>{html.escape(m.label)}</code></h3>"
                   f"{render_part(m, mine, '', policy, depth + 1, findings)}</section>")
    out.append("</div>")
    return "".join(out)


def _inline_image(part: Part) -> str:
    mime = previews.IMAGE_TYPES[part.fmt]
    return (f"<img class='cirn-image' alt='{html.escape(part.label)}' "
            f"src='data:{mime};base64,{base64.b64encode(part.data).decode()}'>")


def render_part(part: Part, findings: list[dict], raw_url: str, policy, depth: int = 0,
                every_finding: list[dict] | None = None) -> str:
    view = part.view
    if view == "archive" and depth >= previews.MAX_DEPTH:
        view = None
    if view == "notebook":
        try:
            return render_notebook(part.data, findings)
        except Exception as exc:
            return f"<p class='text-danger'>The notebook could not be rendered ({html.escape(type(exc).__name__)}).</p>"
    if view == "image":
        return _inline_image(part) if not raw_url else \
            f"<img class='cirn-image' alt='{html.escape(part.label)}' src='{html.escape(raw_url)}'>"
    if view == "table":
        return render_table(part.data, part.label, findings)
    if view == "text":
        return render_text(part.data, findings)
    if view == "document":
        return render_document(part.data, part.fmt, findings)
    if view == "archive":
        return render_archive(part, every_finding if every_finding is not None else findings, policy, depth)
    return (f"<p class='alert alert-warning cirn-no-preview'>No preview for a {html.escape(part.fmt or part.kind)} "
            f"file ({len(part.data)} bytes): the reviewer cannot see its content, so approving it needs a "
            "written override reason. The findings above are what the checks saw.</p>")


def render(path: str, kind: str | None, data: bytes, findings: list[dict], raw_url: str, policy=None) -> str:
    """The file's view; `findings` are the file's and its members' (each with its report's
    `file`, as RequestFile.findings gives them)."""
    if policy is None:
        from cirn.policies.egress_rules import EgressPolicy
        policy = EgressPolicy()
    own = [f for f in findings if f.get("file", path) == path]
    return render_part(previews.part_of(data, path), own, raw_url, policy, 0, findings)
