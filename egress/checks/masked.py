"""A text's bytes with character classes folded (digits to '0', DNA bases to 'B', other ASCII
letters to 'a'), so that the prefilters are plain substring searches.

Python's regular expressions try a pattern that starts with `\\d` at every digit of a CSV file;
`bytes.find` on the folded copy skips through the same text at memory speed. The fold keeps
every byte in place, so a match offset in the folded bytes is an offset in the UTF-8 text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import numpy as np

_TABLE = bytearray(range(256))
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
    _TABLE[_c] = ord("a")
for _c in b"ACGTNacgtn":
    _TABLE[_c] = ord("B")
for _c in b"0123456789":
    _TABLE[_c] = ord("0")
TABLE = bytes(_TABLE)
# Character offsets are counted from the nearest block start, so a lookup decodes at most one block.
BLOCK = 1 << 10
SMALL = 16 * BLOCK
NOT_CONTINUATION = bytes(c for c in range(256) if not 0x80 <= c <= 0xBF)  # deleted to count the rest


class MaskedText:
    """`raw` may be passed when the caller already holds the UTF-8 bytes `text` was decoded from
    (a file read as UTF-8), which saves encoding the text again."""

    def __init__(self, text: str, raw: bytes | None = None):
        self.text = text
        # Lone surrogates (from a notebook's JSON escapes) are kept as 3 bytes each, so offsets hold.
        self.surrogates = False
        if raw is None:
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError:
                raw, self.surrogates = text.encode("utf-8", "surrogatepass"), True
        self.raw = raw
        self.masked = self.raw.translate(TABLE)
        self.is_ascii = len(self.raw) == len(text)
        self._block_chars: np.ndarray | None = None

    def find_all(self, needle: bytes, start: int = 0) -> Iterator[int]:
        """Byte offsets of every occurrence of `needle` in the folded text (non-overlapping)."""
        find = self.masked.find
        i = find(needle, start)
        while i >= 0:
            yield i
            i = find(needle, i + len(needle))

    def finditer(self, pattern: re.Pattern) -> Iterator[re.Match]:
        return pattern.finditer(self.masked)

    def char_offsets(self, byte_offsets: Iterable[int]) -> list[int]:
        """Character offsets of byte offsets (each on a character boundary)."""
        if self.is_ascii:
            return list(byte_offsets)
        byte_offsets = list(byte_offsets)
        if not byte_offsets:
            return []
        raw = self.raw
        if len(raw) <= SMALL:  # most notebook channels: decoding beats building the block table
            return [len(raw[:b].decode("utf-8", "surrogatepass")) for b in byte_offsets]
        starts = self._block_starts()
        out = []
        for b in byte_offsets:
            block = b // BLOCK
            # characters from the block start to b: its bytes less its continuation bytes
            out.append(int(starts[block]) + (b - block * BLOCK) - len(raw[block * BLOCK:b].translate(None, NOT_CONTINUATION)))
        return out

    def _block_starts(self) -> np.ndarray:
        """The character offset at which each BLOCK of bytes starts: the bytes before it that are
        not UTF-8 continuation bytes (0b10xxxxxx), counted in one vectorised pass."""
        if self._block_chars is None:
            data = np.frombuffer(self.raw, dtype=np.uint8)
            full = len(data) // BLOCK
            # as int8, continuation bytes are exactly the values below -64
            lead = BLOCK - (data[:full * BLOCK].view(np.int8).reshape(full, BLOCK) < -64).sum(axis=1, dtype=np.int64)
            self._block_chars = np.concatenate(([0], np.cumsum(lead, dtype=np.int64)))
        return self._block_chars
