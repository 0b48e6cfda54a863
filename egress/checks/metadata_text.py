"""Text that a file carries besides its content: archive comments and member names, zip extra
fields, tar headers, Parquet and Arrow metadata, office-document parts. Each is scanned like a
text; a finding in a place a reader does not see also gets `hidden-content.metadata` (review)."""

from __future__ import annotations

from collections.abc import Iterable

from .findings import Finding, Verdict
from .locations import LineIndex
from .text import scan_text


def metadata_findings(texts: Iterable[tuple[str, str, bool]], ctx) -> list[Finding]:
    """`texts` are (location, text, hidden): hidden when a reader of the file would not see it."""
    findings: list[Finding] = []
    for where, text, hidden in texts:
        lines = LineIndex(text)
        found = scan_text(text, ctx, lambda offset, where=where, lines=lines: f"{where}, {lines.text_location(offset)}")
        findings += found
        if hidden:
            findings += [Finding("hidden-content.metadata", Verdict.REVIEW, f.location,
                                 f"{f.check} found in {where.split(',')[-1].strip()}, which a reader of the file does not see")
                         for f in found]
    return findings
