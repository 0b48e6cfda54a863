"""A text's bytes with character classes folded (digits to '0', DNA bases to 'B', other ASCII
letters to 'a'), so that the prefilters are plain substring searches.

Python's regular expressions try a pattern that starts with `\\d` at every digit of a CSV file;
`bytes.find` on the folded copy skips through the same text at memory speed. The fold keeps
every byte in place, so a match offset in the folded bytes is an offset in the UTF-8 text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_TABLE = bytearray(range(256))
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
    _TABLE[_c] = ord("a")
for _c in b"ACGTNacgtn":
    _TABLE[_c] = ord("B")
for _c in b"0123456789":
    _TABLE[_c] = ord("0")
TABLE = bytes(_TABLE)


class MaskedText:
    def __init__(self, text: str):
        self.text = text
        self.raw = text.encode("utf-8", "surrogatepass")
        self.masked = self.raw.translate(TABLE)
        self.is_ascii = len(self.raw) == len(text)

    def find_all(self, needle: bytes, start: int = 0) -> Iterator[int]:
        """Byte offsets of every occurrence of `needle` in the folded text (non-overlapping)."""
        find, masked = self.masked.find, self.masked
        i = find(needle, start)
        while i >= 0:
            yield i
            i = find(needle, i + len(needle))

    def finditer(self, pattern: re.Pattern) -> Iterator[re.Match]:
        return pattern.finditer(self.masked)

    def char_offsets(self, byte_offsets: Iterable[int]) -> list[int]:
        """Character offsets of sorted byte offsets (each on a character boundary)."""
        if self.is_ascii:
            return list(byte_offsets)
        out, last_byte, last_char = [], 0, 0
        for b in byte_offsets:
            last_char += len(self.raw[last_byte:b].decode("utf-8", "surrogatepass"))
            last_byte = b
            out.append(last_char)
        return out
