"""Every part of an Office Open XML file (xlsx, docx, pptx), not only the ones a reader opens.

Cell comments, defined names, document properties, chart and pivot caches, custom XML, headers
and footers are XML parts: their text and attribute values are scanned (a finding there also gets
`hidden-content.metadata`). A part outside the known layout is held
(`hidden-content.unknown-part`, review) and, when it is not XML, scanned as the file it is; the
zip around the parts is checked like any zip (comments, extra fields, bytes outside members).
"""

from __future__ import annotations

import html
import io
import re
import zipfile

from .archives import _extra_text, zip_layout_findings
from .decoding import decode_metadata
from .findings import Finding, Verdict
from .metadata_text import metadata_findings

KNOWN_PARTS = re.compile(r"""^(?:
    \[Content_Types\]\.xml | (?:.*/)?_rels/[^/]*\.rels
  | docProps/(?:core|app|custom)\.xml | docProps/thumbnail\.(?:jpe?g|png|emf|wmf)
  | customXml/item(?:Props)?\d*\.xml
  | xl/(?:workbook|styles|sharedStrings|calcChain|metadata|connections|volatileDependencies)\.xml
  | xl/(?:worksheets|chartsheets|dialogsheets|theme|threadedComments|persons|drawings|charts|tables|pivotTables
        |pivotCache|queryTables|externalLinks|richData|slicers|slicerCaches|timelines|timelineCaches)/[^/]+\.(?:xml|vml)
  | xl/comments\d*\.xml | xl/comments/[^/]+\.xml | xl/printerSettings/printerSettings\d+\.bin
  | (?:xl|word|ppt)/media/[^/]+\.(?:png|jpe?g|gif|bmp|tiff?|emf|wmf|svg)
  | (?:xl|word|ppt)/(?:drawings|charts|theme)/[^/]+\.xml | (?:xl|word|ppt)/charts/(?:style|colors)\d*\.xml
  | word/(?:document|styles|stylesWithEffects|settings|webSettings|fontTable|numbering|footnotes|endnotes
          |comments|commentsExtended|commentsIds|commentsExtensible|people|footer\d+|header\d+)\.xml
  | word/glossary/[^/]+\.xml
  | ppt/(?:presentation|presProps|viewProps|tableStyles|commentAuthors|authors)\.xml
  | ppt/(?:slides|slideLayouts|slideMasters|notesSlides|notesMasters|handoutMasters|comments|tags)/[^/]+\.xml
)$""", re.X)
XML_PART = re.compile(r"\.(?:xml|rels|vml)$")
# text runs inside a paragraph: their ends join the text a reader sees (Word splits a word over
# several runs); every other closing tag ends a line
INLINE = re.compile(r"^(?:\w+:)?(?:t|r|rPr|ins|del|smartTag|hyperlink|fldSimple|proofErr|bookmarkEnd|bookmarkStart)$")
TAG = re.compile(r"<(/?)([\w:.-]+)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|<!\[CDATA\[(.*?)\]\]>|<[?!][^>]*>", re.S)
ATTRIBUTE = re.compile(r"""[\w:.-]+\s*=\s*(?:"([^"]*)"|'([^']*)')""")
NAMESPACE_ATTRIBUTE = re.compile(r"^xmlns(?::|$)")
SHEET_DATA = re.compile(rb"<sheetData\b.*?</sheetData>|<sheetData\b[^>]*/>", re.S)
FORMULA = re.compile(rb"<f\b[^>]*>(.*?)</f>", re.S)
SHARED_STRING = re.compile(r"<si>(.*?)</si>", re.S)


def xml_text(xml: str) -> tuple[str, str]:
    """(element text as a reader sees it, attribute values one per line), entities decoded."""
    parts: list[str] = []
    attributes: list[str] = []
    pos = 0
    for m in TAG.finditer(xml):
        parts.append(xml[pos:m.start()])
        pos = m.end()
        if m.group(4) is not None:  # CDATA
            parts.append(m.group(4))
            continue
        closing, name, attrs = m.group(1), m.group(2), m.group(3)
        if name is None:
            continue
        if attrs:
            for a in ATTRIBUTE.finditer(attrs):
                value = a.group(1) if a.group(1) is not None else a.group(2)
                if value and not NAMESPACE_ATTRIBUTE.match(a.group(0)):
                    attributes.append(html.unescape(value))
        local = name.rsplit(":", 1)[-1]
        if local == "tab":
            parts.append("\t")
        elif local in ("br", "cr"):
            parts.append("\n")
        elif closing and not INLINE.match(name):
            parts.append("\n")
    parts.append(xml[pos:])
    return html.unescape("".join(parts)), "\n".join(attributes)


def _decode_xml(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def office_part_findings(data: bytes, ctx, read_text: set[str] = frozenset(), cell_values: set[str] | None = None) -> list[Finding]:
    """Findings for the parts the format's own reader did not cover. `read_text` are parts whose
    element text was already scanned (their attributes are still read); `cell_values` are the
    workbook's cells as read, so that shared strings no cell uses are scanned and the others not
    twice."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return []  # the format's reader reports an unreadable document
    findings = zip_layout_findings(data, zf)
    texts: list[tuple[str, str, bool]] = [("archive comment", decode_metadata(zf.comment), True)]
    for info in infos:
        name = info.filename
        where = f"part '{name}'"
        texts.append((f"{where}, comment", decode_metadata(info.comment), True))
        texts.append((f"{where}, extra field", _extra_text(info.extra), True))
        if info.is_dir():
            if info.file_size:
                findings.append(Finding("archive.folder-with-data", Verdict.BLOCK, where,
                                        f"a folder entry holds {info.file_size} bytes that no application shows; remove it"))
            else:
                continue
        if info.file_size > ctx.policy.max_file_bytes:
            findings.append(Finding("size.cap", Verdict.BLOCK, where, f"a part of {info.file_size} bytes is over the size cap"))
            continue
        try:
            content = zf.read(info)
        except Exception as exc:  # zipfile raises several types for damaged members
            findings.append(Finding("blocked-type.unreadable-document", Verdict.BLOCK, where, f"the part cannot be read ({exc})"))
            continue
        known = bool(KNOWN_PARTS.match(name))
        if not known:
            findings.append(Finding("hidden-content.unknown-part", Verdict.REVIEW, where,
                                    "a part outside the document's usual layout, which no reader of the document sees"))
        if XML_PART.search(name) or content.lstrip()[:1] == b"<":
            texts += _xml_part_texts(name, content, name in read_text, cell_values)
        elif name.startswith("xl/printerSettings/"):
            texts.append((where, content.decode("utf-16-le", "ignore") + "\n" + content.decode("latin-1"), True))
        else:
            findings += _scan_embedded(content, ctx, where, known)
    return findings + metadata_findings(((w, t, h) for w, t, h in texts if t.strip()), ctx)


def _xml_part_texts(name: str, content: bytes, text_read: bool, cell_values: set[str] | None) -> list[tuple[str, str, bool]]:
    where = f"part '{name}'"
    out = []
    if name.startswith("xl/worksheets/"):
        # cell values are read as the table; formulas are not (a formula can hold a string its value hides)
        formulas = [html.unescape(f.decode("utf-8", "replace")) for sheet in SHEET_DATA.findall(content) for f in FORMULA.findall(sheet)]
        out.append((f"{where}, formulas", "\n".join(formulas), True))
        content = SHEET_DATA.sub(b"", content)
    xml = _decode_xml(content)
    if name == "xl/sharedStrings.xml" and cell_values is not None:
        unused = [s for s in (xml_text(si)[0] for si in SHARED_STRING.findall(xml)) if s not in cell_values]
        out.append((f"{where}, strings no cell shows", "\n".join(unused), True))
        out.append((f"{where}, attributes", xml_text(xml)[1], True))
        return out
    text, attributes = xml_text(xml)
    if not text_read:
        out.append((where, text, True))
    out.append((f"{where}, attributes", attributes, True))
    return out


def _scan_embedded(content: bytes, ctx, where: str, known: bool) -> list[Finding]:
    """A non-XML part scanned as the file it is (an embedded workbook, an image, a zip)."""
    from .archives import Budget
    from .scan import _scan_content  # the scan dispatches on type; this module is one of its handlers
    reports = _scan_content(content, "part", ctx, 1, Budget(ctx.policy.archive.max_expanded_bytes))
    out = []
    for report in reports:
        inner = report.path[len("part"):].lstrip("!/")
        prefix = f"{where}, member '{inner}'" if inner else where
        for f in report.findings:
            if f.check != "blocked-type.binary":
                out.append(f.at(prefix))
            elif known:  # an unknown part is held already
                out.append(Finding("hidden-content.unknown-part", Verdict.REVIEW, prefix,
                                   "a binary part (an embedded object or a figure format) that no check reads"))
    return out
