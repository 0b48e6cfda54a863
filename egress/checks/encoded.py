"""Encoded runs in text: base64 (standard and URL-safe), hex and uuencoded blocks.

A reader sees a wall of characters; the bytes behind it can be a table of genotypes or a gzip
of pseudonyms. Every run long enough to hold a pseudonym is decoded and, when the bytes are text
or a known container, scanned like a file (findings located at the run). A run longer than
REVIEW_CHARS is held for a person whatever it decodes to (`hidden-content.encoded-run`): its
content may be in a form no check reads.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import re
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .findings import Finding, Verdict
from .masked import MaskedText

# shortest run that is decoded: base64 of a pseudonym ('S-' and 16 characters) is 24 characters
DECODE_CHARS = 20
# runs are found from this length: a pseudonym (18 characters of the alphabet) is one, so the
# pseudonym-shape check reads only these runs (`genomic_text.pseudonym_shapes`)
RUN_CHARS = 18
# a run at least this long is held for review: longer than a SHA-512 in hex (128)
REVIEW_CHARS = 160
# decoded content is scanned like a file, and may itself hold encoded runs: this deep at most
MAX_NESTING = 3
B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_CLASS = bytearray(b"." * 256)
for _c in B64_ALPHABET:
    _CLASS[_c] = ord("x")
CLASS = bytes(_CLASS)
RUN_NEEDLE = b"x" * RUN_CHARS
UU_LINE_CHARS = bytes(range(0x20, 0x61))
# decoded bytes that start like these are scanned as the file they are
MAGIC = (b"\x1f\x8b", b"PK\x03\x04", b"PK\x05\x06", b"BZh", b"\xfd7zXZ\x00", b"PAR1", b"%PDF", b"\x89PNG",
         b"\xff\xd8\xff", b"BAM\x01", b"BCF", b"CRAM", b"SQLite format 3", b"\xff\xfe", b"\xfe\xff")

_nesting: contextvars.ContextVar[int] = contextvars.ContextVar("encoded_nesting", default=0)


@dataclass(frozen=True)
class EncodedRun:
    start: int  # character offsets in the text
    length: int
    encoding: str  # base64, hex, uuencode
    decoded: bytes | None


def _decode(run: bytes) -> tuple[str, bytes | None]:
    body = run.rstrip(b"=")
    if len(body) % 2 == 0 and all(c in HEX_DIGITS for c in body) and body == run:
        try:
            return "hex", bytes.fromhex(body.decode("ascii"))
        except ValueError:
            pass
    altchars = b"-_" if (b"-" in body or b"_" in body) else None
    if altchars and (b"+" in body or b"/" in body):
        return "base64", None
    try:
        return "base64", base64.b64decode(body + b"=" * (-len(body) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return "base64", None


def class_runs(raw: bytes) -> list[tuple[int, int, bytes]]:
    """(byte start, byte end, run without line breaks) of every run of at least RUN_CHARS
    base64-alphabet characters: one translation and one search at bytes speed. Runs wrapped over
    lines (MIME base64, 76 characters a line) are joined."""
    return list(_base64_runs(raw))


def _base64_runs(raw: bytes) -> Iterator[tuple[int, int, bytes]]:
    cls = raw.translate(CLASS)
    i = cls.find(RUN_NEEDLE)
    while i >= 0:
        end = cls.find(b".", i)
        end = len(raw) if end < 0 else end
        parts = [raw[i:end]]
        while True:  # the next line continues the run
            nl = 2 if raw.startswith(b"\r\n", end) else 1 if raw.startswith(b"\n", end) else 0
            if not nl or len(parts[-1]) % 4:
                break
            nxt = cls.find(b".", end + nl)
            nxt = len(raw) if nxt < 0 else nxt
            if nxt - (end + nl) < 4:
                break
            parts.append(raw[end + nl:nxt])
            end = nxt
        yield i, end, b"".join(parts)
        i = cls.find(RUN_NEEDLE, end)


# two full uuencoded lines; a literal start, so the search skips at bytes speed
UU_PAIR = re.compile(rb"\nM[ -`]{60}\r?\nM[ -`]{60}\r?(?:\n|$)")


def _uuencoded_runs(raw: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Blocks of two or more full uuencoded lines ('M' and 60 characters)."""
    text = b"\n" + raw  # so that a block at the very start is found like the others
    m = UU_PAIR.search(text)
    while m:
        pos = start = m.start()  # in raw: the offset of the 'M'
        lines = []
        while raw.startswith(b"M", pos):
            end = raw.find(b"\n", pos)
            end = len(raw) if end < 0 else end
            line = raw[pos:end].rstrip(b"\r")
            if len(line) != 61 or line.translate(None, UU_LINE_CHARS):
                break
            lines.append(line)
            pos = end + 1
        try:
            decoded = b"".join(binascii.a2b_uu(line) for line in lines)
        except binascii.Error:
            decoded = b""
        yield start, min(pos, len(raw)), decoded
        m = UU_PAIR.search(text, pos + 1)


def encoded_runs(masked: MaskedText, runs: list[tuple[int, int, bytes]] | None = None) -> list[EncodedRun]:
    """Encoded runs of a text; `runs` are its `class_runs`, when the caller has them."""
    raw = masked.raw
    found: list[tuple[int, int, str, bytes | None]] = []
    for start, end, run in (class_runs(raw) if runs is None else runs):
        if len(run) >= DECODE_CHARS:
            encoding, decoded = _decode(run)
            found.append((start, end, encoding, decoded))
    for start, end, decoded in _uuencoded_runs(raw):
        found.append((start, end, "uuencode", decoded or None))
    found.sort(key=lambda f: f[0])
    starts = masked.char_offsets([f[0] for f in found])
    return [EncodedRun(char_start, end - start, encoding, decoded)  # runs are ASCII: bytes are characters
            for (start, end, encoding, decoded), char_start in zip(found, starts)]


def worth_scanning(data: bytes) -> bool:
    """Decoded bytes that are text or a known file; random bytes (a hash, a key, packed floats)
    decode to neither."""
    if len(data) < 8:
        return False
    if data.startswith(MAGIC):
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n")
    return printable >= 0.95 * len(text)


def encoded_findings(masked: MaskedText, ctx, locate: Callable[[int], str],
                     runs: list[tuple[int, int, bytes]] | None = None) -> list[Finding]:
    """Findings for the encoded runs of a text: the decoded content's findings, located at the
    run, and `hidden-content.encoded-run` (review) for a long run or one whose content has a
    finding."""
    findings: list[Finding] = []
    for run in encoded_runs(masked, runs):
        where = locate(run.start)
        inner: list[Finding] = []
        if run.decoded is not None and worth_scanning(run.decoded):
            inner = _scan_decoded(run.decoded, ctx, f"{where}, decoded {run.encoding}")
        if inner or run.length >= REVIEW_CHARS:
            what = ("decodes to content with findings" if inner else
                    "decoded and checked" if run.decoded is not None and worth_scanning(run.decoded) else
                    "its content cannot be read by any check")
            findings.append(Finding("hidden-content.encoded-run", Verdict.REVIEW, where,
                                    f"a {run.length}-character {run.encoding} run, which a reader cannot see through: {what}"))
        findings += inner
    return findings


def _scan_decoded(data: bytes, ctx, where: str) -> list[Finding]:
    depth = _nesting.get()
    if depth >= MAX_NESTING:
        return [Finding("hidden-content.encoded-run", Verdict.REVIEW, where,
                        f"encoded content nested more than {MAX_NESTING} deep was not decoded further")]
    from .archives import Budget
    from .scan import _scan_content  # the scan dispatches on type, and scans text with this module
    token = _nesting.set(depth + 1)
    try:
        reports = _scan_content(data, "decoded", ctx, depth, Budget(ctx.policy.archive.max_expanded_bytes))
    finally:
        _nesting.reset(token)
    out = []
    for report in reports:
        inner = report.path[len("decoded"):].lstrip("!/")
        prefix = f"{where}, member '{inner}'" if inner else where
        out += [f.at(prefix) for f in report.findings if f.check != "blocked-type.binary"]
    return out
