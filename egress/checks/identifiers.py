"""Matches of participant and sample identifiers, all of them in one pass (Aho–Corasick), in text
normalised as a reader sees it (NFKC, no format characters, case folded: `normalise.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import ahocorasick

from cirn.errors import CirnError

from .masked import MaskedText
from .normalise import normalise


class IdentifierListError(CirnError):
    """The identifier list cannot be read."""


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class IdentifierSet:
    """Identifiers that must never leave; `find(text)` yields (start, end, identifier).

    A match counts only at word boundaries so that `P001` does not fire inside `P0012`: a
    pseudonym with a longer neighbour is a different pseudonym. Matching is in text normalised as
    a reader sees it (`normalise.py`) and ignores the case of ASCII letters (`s-4kq2…` is
    `S-4KQ2…`; identifiers are ASCII). The automaton runs over the text's UTF-8 bytes with ASCII
    lowercased, read as Latin-1 (one character per byte): lowering bytes and that reading cost
    a copy at memory speed, where lowering the text as `str` would decode every character.
    """

    def __init__(self, identifiers: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        self.count = 0
        for ident in identifiers:
            ident = ident.strip()
            if len(ident) < 3:  # too short to be a pseudonym; would match everywhere
                continue
            key = normalise(ident).text.encode("utf-8", "surrogatepass").lower().decode("latin-1")
            if key not in self._automaton:
                self._automaton.add_word(key, (len(key), ident))
                self.count += 1
        if self.count:
            self._automaton.make_automaton()

    @classmethod
    def from_file(cls, path: str | Path) -> "IdentifierSet":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise IdentifierListError(f"identifier list {path} does not exist; give a file with one identifier per line") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise IdentifierListError(f"identifier list {path} cannot be read ({exc}); it must be UTF-8 text, one identifier per line") from None
        return cls(line for line in text.splitlines() if line.strip() and not line.startswith("#"))

    @classmethod
    def empty(cls) -> "IdentifierSet":
        return cls(())

    def words(self) -> list[str]:
        """The identifiers kept, as listed (what a checks worker process is sent to rebuild the set:
        its findings name them as the parent's would)."""
        return sorted(ident for _, ident in self._automaton.values()) if self.count else []

    def __bool__(self) -> bool:
        return self.count > 0

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Matches in `text`, with offsets in it."""
        if not self.count:
            return
        view = normalise(text)
        for start, end, ident in self.find_masked(MaskedText(view.text)):
            yield view.source_offset(start), view.source_offset(end - 1) + 1, ident

    def find_masked(self, masked: MaskedText) -> Iterator[tuple[int, int, str]]:
        """Matches in a text already normalised, given as its MaskedText; character offsets."""
        if not self.count:
            return
        hits = [(end_index - length + 1, end_index + 1, ident)
                for end_index, (length, ident) in self._automaton.iter(masked.raw.lower().decode("latin-1"))]
        if not hits:
            return
        text = masked.text
        offsets = iter(masked.char_offsets([x for b, e, _ in hits for x in (b, e)]))
        n = len(text)
        for _b, _e, ident in hits:
            start, end = next(offsets), next(offsets)
            if start > 0 and _is_word_char(text[start - 1]) and _is_word_char(text[start]):
                continue
            if end < n and _is_word_char(text[end]) and _is_word_char(text[end - 1]):
                continue
            yield start, end, ident
