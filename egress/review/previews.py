"""What a reviewer can see of a file: the view each part of it gets on the file page, and the
parts that get none (or only part of one).

The file page (cirn.egress.service.render) draws the views named here, and the desk holds every
file with an unseen part: a `hidden-content.no-preview` or `hidden-content.view-truncated`
finding (severity `review`, so two reviewers must approve), and approving it needs a written
override reason, as a `block` finding does. One table decides both, so the page and the rule
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_ROWS = 1000          # rows a table view shows
MAX_TEXT = 2_000_000     # bytes a text view shows
MAX_DEPTH = 3            # archives inside archives listed this deep
# Bytes an archive's preview expands in the web process; members past it are not shown (and so
# hold the file), the checks engine keeps its own, larger budget.
MAX_EXPANDED = 64 << 20

NO_PREVIEW = "hidden-content.no-preview"
TRUNCATED = "hidden-content.view-truncated"
NOT_SHOWN = frozenset({NO_PREVIEW, TRUNCATED})

# (sniffed kind, sniffed format) -> view; a kind alone stands for every format not listed.
VIEWS: dict[tuple[str, str | None], str | None] = {
    ("notebook", None): "notebook",
    ("image", "png"): "image", ("image", "jpeg"): "image", ("image", "gif"): "image", ("image", "webp"): "image",
    ("image", "svg"): "text",        # its source: the coordinates are what the checks flag
    ("image", None): None,           # tiff, bmp: browsers do not draw them reliably
    ("table", "csv"): "table", ("table", "tsv"): "table", ("table", "html"): "text",
    ("table", None): None,           # parquet, xlsx: not opened in the web process (see README)
    ("text", None): "text",
    ("document", "pdf"): "document", ("document", "docx"): "document", ("document", "pptx"): "document",
    ("document", None): None,        # legacy .doc/.xls
    ("archive", "zip"): "archive", ("archive", "tar"): "archive", ("archive", "gzip"): "archive",
    ("archive", "bzip2"): "archive", ("archive", "xz"): "archive",
    ("archive", None): None,         # 7z, rar: cannot be opened
    ("genomic", None): None,
    ("binary", None): None,
}
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


@dataclass(frozen=True)
class Part:
    """One part of a file as the reviewer sees it: the file itself, or an archive member
    (`outer.zip!/inner.csv`). `view` is None when it has no preview; `truncated` when its view
    shows only the beginning."""

    label: str
    kind: str
    fmt: str
    view: str | None
    truncated: bool = False
    data: bytes = b""


def view_of(kind: str, fmt: str) -> str | None:
    if (kind, fmt) in VIEWS:
        return VIEWS[(kind, fmt)]
    return VIEWS.get((kind, None))


def _truncated(view: str | None, data: bytes) -> bool:
    if view == "text":
        return len(data) > MAX_TEXT
    if view == "table":
        # lines bound rows from above (a quoted field may hold a newline): a table that might not
        # fit is held rather than one that does not fit passed
        return len(data) > MAX_TEXT or data.count(b"\n") - (0 if data.endswith(b"\n") else -1) > MAX_ROWS + 1
    return False


def part_of(data: bytes, label: str) -> Part:
    from cirn.egress.checks import sniff

    s = sniff(data, label)
    view = view_of(s.kind, s.fmt)
    return Part(label, s.kind, s.fmt, view, _truncated(view, data), data)


def members(part: Part, policy) -> tuple[list[Part], list[str]]:
    """An archive's members as parts, and the problems met opening it (each is something the
    reviewer cannot see). Read with the checks' own archive reader and limits."""
    from cirn.egress.checks import ArchiveReader, Budget

    budget = Budget(min(policy.archive.max_expanded_bytes, MAX_EXPANDED))
    reader = ArchiveReader(part.data, part.fmt, policy.archive, budget, policy.max_file_bytes, name=part.label)
    out = [part_of(m.data, f"{part.label}!/{m.name}") for m in reader.members()]
    return out, [f"{f.location}: {f.message}" for f in reader.findings]


def walk(data: bytes, label: str, policy, depth: int = 0) -> Iterator[tuple[Part, list[str]]]:
    """Every part of the file, depth first, each with the problems met opening it."""
    part = part_of(data, label)
    if part.view != "archive":
        yield part, []
        return
    if depth >= MAX_DEPTH:
        yield Part(part.label, part.kind, part.fmt, None, False, part.data), [f"nested deeper than {MAX_DEPTH} archives"]
        return
    inner, problems = members(part, policy)
    yield part, problems
    for m in inner:
        yield from walk(m.data, m.label, policy, depth + 1)


def unseen_findings(data: bytes, path: str, policy) -> list[dict]:
    """The findings that hold a file for what its views leave out (none when all is shown)."""
    missing, cut = [], []
    for part, problems in walk(data, path, policy):
        if part.view is None:
            missing.append(f"{part.label} ({part.fmt or part.kind})")
        elif part.truncated:
            cut.append(part.label)
        missing += [f"{part.label}: {p}" for p in problems]
    out = []
    if missing:
        out.append({"check": NO_PREVIEW, "severity": "review", "location": "file",
                    "message": "the reviewer's page cannot show " + "; ".join(missing[:20])
                               + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
                               + "; approving it needs a written override reason"})
    if cut:
        out.append({"check": TRUNCATED, "severity": "review", "location": "file",
                    "message": f"the reviewer's page shows only the first {MAX_ROWS} rows or {MAX_TEXT} bytes of "
                               + ", ".join(cut[:20]) + "; approving it needs a written override reason"})
    return out


def hold_unseen(result, data: bytes, path: str, policy):
    """(kind, verdict, reports) of one file's scan, with the unseen-part findings added."""
    from .holds import add_findings

    return add_findings(result, path, unseen_findings(data, path, policy))


def needs_override(findings: list[dict]) -> bool:
    """Approving a file with these findings needs a written override reason."""
    return any(f.get("severity") == "block" or f.get("check") in NOT_SHOWN for f in findings)
