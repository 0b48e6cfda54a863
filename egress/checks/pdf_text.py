"""The text of a PDF, page by page (pypdf, pure Python), for the checks that read text.

Only text is read: figures, images and vector drawings in a PDF still need a person, so a
readable PDF is at least `review`. A PDF that cannot be read (encrypted, damaged, no pages) is
blocked with the reason, never passed.
"""

from __future__ import annotations

import contextlib
import io
import logging

from .context import ScanContext
from .findings import Finding, Verdict
from .locations import LineIndex
from .text import scan_text

MAX_PAGES = 2000  # a longer document is read this far; the rest is left to the reviewer

log = logging.getLogger(__name__)


def scan_pdf(data: bytes, ctx: ScanContext) -> list[Finding]:
    with _quiet_pypdf():
        return _scan(data, ctx)


@contextlib.contextmanager
def _quiet_pypdf():
    """pypdf logs a warning for every flaw it repairs; the findings say what matters, and the
    command's stderr is kept for its own errors."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _scan(data: bytes, ctx: ScanContext) -> list[Finding]:
    from pypdf import PdfReader  # imported by the scans that meet a PDF only
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = list(reader.pages) if not encrypted else []
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        return [_unreadable(f"it is damaged or not a PDF ({type(exc).__name__}: {str(exc)[:120]})")]
    if encrypted:
        return [Finding("blocked-type.encrypted-document", Verdict.BLOCK, "file",
                        "the PDF is encrypted, so its content cannot be checked; release it without a password")]
    if not pages:
        return [_unreadable("it has no pages that can be read")]
    findings: list[Finding] = []
    read_any = False
    for number, page in enumerate(pages[:MAX_PAGES], start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises assorted errors on broken content streams
            log.debug("page %d of a PDF cannot be read: %s", number, exc)
            findings.append(_unreadable(f"the text of this page cannot be read ({type(exc).__name__})", f"page {number}"))
            continue
        read_any = read_any or bool(text.strip())
        lines = LineIndex(text)
        findings += scan_text(text, ctx, lambda offset, n=number, lines=lines: f"page {n}, {lines.text_location(offset)}")
    notes = []
    if len(pages) > MAX_PAGES:
        notes.append(f"only its first {MAX_PAGES} of {len(pages)} pages were read")
    if not read_any:
        notes.append("no text could be extracted (a scanned document or only figures)")
    findings.append(Finding("blocked-type.pdf", Verdict.REVIEW, "file",
                            "the text of the PDF was checked; its figures and images need a person"
                            + ("; " + "; ".join(notes) if notes else "")))
    return findings


def _unreadable(reason: str, location: str = "file") -> Finding:
    return Finding("blocked-type.unreadable-document", Verdict.BLOCK, location,
                   f"the PDF cannot be checked: {reason}; export it again or release its source instead")
