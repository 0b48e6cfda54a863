"""Text files decoded as a person's editor would show them, and read again so that an undecodable
byte cannot hide an identifier.

A UTF-8 file with one stray byte is still a UTF-8 file to an editor (which shows a replacement
mark, removed before matching: `normalise.py`). A stray CP949 lead byte in a file that decodes as
CP949 swallows the next ASCII character (`\\xb0S-4KQ…` reads as a Hangul syllable and `-4KQ…`),
so a file that is not UTF-8 is also read as UTF-8 with its undecodable bytes left out, and the
identifier and genotype checks run on that reading too.
"""

from __future__ import annotations

from .findings import Finding, Verdict
from .genomic_text import genotype_lines
from .locations import LineIndex
from .normalise import normalise
from .pii import redact


def decode_text(data: bytes) -> tuple[str, bytes | None]:
    """(text, its UTF-8 bytes when the file was UTF-8). UTF-8; else UTF-8 with replacement marks
    when the file is mostly UTF-8 (more well-formed multi-byte characters than bad bytes); else
    Korean CP949; else Latin-1."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8"), body
    except UnicodeDecodeError:
        pass
    lenient = body.decode("utf-8", "replace")
    bad = lenient.count("\ufffd")
    multibyte = len(lenient) - len(lenient.encode("ascii", "ignore")) - bad
    if multibyte > bad:
        return lenient, None
    try:
        return data.decode("cp949"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), None


def decode_metadata(data: bytes) -> str:
    """Bytes of a comment or header field as text: UTF-16 when it says so (a byte-order mark) or
    looks so (every other byte zero), else as a text file (`decode_text`)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if len(data) >= 4:
        if data[1::2].count(0) * 2 > len(data) // 2:
            return data.decode("utf-16-le", "replace")
        if data[0::2].count(0) * 2 > len(data) // 2:
            return data.decode("utf-16-be", "replace")
    return decode_text(data)[0]


def undecodable_byte_findings(data: bytes, ctx, found: list[Finding]) -> list[Finding]:
    """Identifiers and genotype lines that show only when the bytes no encoding accepts are left
    out; [] for a UTF-8 file. `found` are the findings of the file's own reading (not repeated)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        body.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "ignore")
    locate = LineIndex(text).text_location  # line numbers are those of the file; columns may differ
    known = {f.message for f in found}
    out: list[Finding] = []
    for begin, _end, ident in ctx.identifiers.find(text):
        message = f"identifier {redact(ident)} from the identifier list"
        if message not in known:
            out.append(Finding("identifier.exact", Verdict.BLOCK, locate(begin),
                               message + ", read with an undecodable byte left out"))
    clean = normalise(text)
    for offset, rsid in genotype_lines(clean.text):
        message = f"a person's genotype at {rsid} (ID, rsID and genotype on one line)"
        if message not in known:
            out.append(Finding("genotype.per-person-line", Verdict.BLOCK, locate(clean.source_offset(offset)),
                               message + ", read with an undecodable byte left out"))
    return out
