"""Text as the checks should read it: Unicode NFKC, format characters (zero-width spaces, joiners,
bidi marks, tag characters) and replacement characters removed, and, for identifiers, case
folded; with a map from each offset in the normalised text back to the text a reviewer sees.

A pseudonym split by a zero-width space, written in full-width letters, lowercased, or cut by an
undecodable byte (decoded as U+FFFD) reads to a person as the pseudonym; after this it reads so to
the checks too. Most text needs none of it (ASCII, or Korean already in NFKC): those cases cost
one C-speed pass and no copy. Only the characters that change are treated one by one.

Identifiers are ASCII (pseudonyms, sample IDs), so folding lowercases ASCII letters and folds a
non-ASCII character only where normalising changes it (a capital Latin, Greek or Cyrillic
letter, which casefold changes, is such a character).
"""

from __future__ import annotations

import bisect
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

REPLACEMENT = "\ufffd"
# Hangul conjoining jamo compose under NFKC although each is NFKC on its own (NFD Korean, as
# macOS writes file names, is made of them).
JAMO = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))


@dataclass(frozen=True)
class NormalisedText:
    """`text` normalised, and where its pieces came from: `pieces[i] = (start in text, start in
    source, same_length)`; inside a same-length piece offsets map one to one."""

    text: str
    pieces: tuple[tuple[int, int, bool], ...] = ()
    plain: bool = False  # the source is ASCII or Hangul only: nothing but ASCII case can differ

    @property
    def unchanged_offsets(self) -> bool:
        """Offsets in `text` are offsets in the source (the text may still differ in case)."""
        return not self.pieces

    def source_offset(self, offset: int) -> int:
        if not self.pieces:
            return offset
        i = bisect.bisect_right(self.pieces, (offset, sys.maxsize, True)) - 1
        start, source_start, same_length = self.pieces[max(i, 0)]
        return source_start + (offset - start if same_length else 0)


# UTF-8 lead bytes of the characters that are checked one by one: all but ASCII and U+A000–U+DFFF
# (lead bytes EA–ED: Hangul syllables, Yi, Hangul jamo extension-B, surrogates), a range with no
# format character, no compatibility form of an ASCII letter or digit, and no jamo that NFKC
# composes, so nothing in it can hide or imitate an identifier or a number.
_ODD_LEADS = bytes([*range(0xC0, 0xEA), *range(0xEE, 0x100)])
_NOT_ODD = bytes(b for b in range(256) if b not in _ODD_LEADS)
_MARK_ODD = bytes(1 if b in _ODD_LEADS else 0 for b in range(256))


@lru_cache(maxsize=65536)
def _irregular(ch: str, fold: bool) -> bool:
    """Whether normalising changes the character or may join it to its neighbour."""
    cp = ord(ch)
    if unicodedata.category(ch) == "Cf" or ch == REPLACEMENT or unicodedata.combining(ch):
        return True
    if any(lo <= cp <= hi for lo, hi in JAMO):
        return True
    if unicodedata.normalize("NFKC", ch) != ch:
        return True
    return fold and ch.casefold() != ch


def _irregular_chars(text: str, raw: bytes, fold: bool) -> list[int]:
    """Character offsets of the characters normalisation changes, found from their UTF-8 lead
    bytes: the cost is one pass in numpy and then one step per non-Korean non-ASCII character."""
    out: list[int] = []
    chars = prev = 0
    for b in np.flatnonzero(np.frombuffer(raw.translate(_MARK_ODD), dtype=np.uint8)).tolist():
        chars += len(raw[prev:b].decode("utf-8", "surrogatepass"))
        prev = b
        if _irregular(text[chars], fold):
            out.append(chars)
    return out


def _fold_ascii(text: str, raw: bytes | None) -> str:
    """ASCII letters lowercased, every other character kept: one to one, at bytes speed."""
    raw = raw if raw is not None else text.encode("utf-8", "surrogatepass")
    return raw.lower().decode("utf-8", "surrogatepass")


def _normal_piece(piece: str, fold: bool) -> str:
    out = unicodedata.normalize("NFKC", "".join(ch for ch in piece if unicodedata.category(ch) != "Cf" and ch != REPLACEMENT))
    if fold:
        out = unicodedata.normalize("NFKC", out.casefold())
    return out


def normalise(text: str, fold: bool = False, raw: bytes | None = None) -> NormalisedText:
    """NFKC with format and replacement characters removed; case folded too when `fold`.
    `raw` is `text` in UTF-8 when the caller has it."""
    if text.isascii():
        return NormalisedText(text.lower() if fold else text, plain=True)
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    if not raw.translate(None, _NOT_ODD):  # the common case: one pass at bytes speed
        return NormalisedText(_fold_ascii(text, raw) if fold else text, plain=True)
    irregular = _irregular_chars(text, raw, fold)
    if not irregular:
        return NormalisedText(_fold_ascii(text, raw) if fold else text)
    parts: list[str] = []
    pieces: list[tuple[int, int, bool]] = []
    out_len = last = 0

    def add(source_start: int, value: str, same_length: bool) -> None:
        nonlocal out_len
        if value:
            pieces.append((out_len, source_start, same_length))
            parts.append(value)
            out_len += len(value)

    # one group per changed character, so each maps to its own place; a combining mark or jamo
    # joins the group before it (or the character before it), with which NFKC composes it
    groups: list[list[int]] = []
    for i in irregular:
        ch = text[i]
        joins = unicodedata.combining(ch) or any(lo <= ord(ch) <= hi for lo, hi in JAMO)
        if joins and groups and groups[-1][1] == i:
            groups[-1][1] = i + 1
        elif joins and i > 0 and (not groups or groups[-1][1] < i):
            groups.append([i - 1, i + 1])
        else:
            groups.append([i, i + 1])
    for start, end in groups:
        if start > last:
            plain = text[last:start]
            add(last, _fold_ascii(plain, None) if fold else plain, True)
        add(start, _normal_piece(text[start:end], fold), False)
        last = end
    if last < len(text):
        plain = text[last:]
        add(last, _fold_ascii(plain, None) if fold else plain, True)
    return NormalisedText("".join(parts), tuple(pieces))
