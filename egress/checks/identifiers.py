"""Matches of participant and sample identifiers, all of them in one pass (Aho–Corasick), in text
normalised as a reader sees it (NFKC, no format characters, case folded: `normalise.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import ahocorasick

from cirn.errors import CirnError

from .normalise import normalise


class IdentifierListError(CirnError):
    """The identifier list cannot be read."""


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class IdentifierSet:
    """Identifiers that must never leave; `find(text)` yields (start, end, identifier).

    A match counts only at word boundaries so that `P001` does not fire inside `P0012`: a
    pseudonym with a longer neighbour is a different pseudonym. Identifiers are kept folded
    (`s-4kq2…` matches `S-4KQ2…`); `find(text)` folds the text the same way and yields offsets in
    it; `find_folded(view)` takes a view already folded (`normalise(text, fold=True)`).
    """

    def __init__(self, identifiers: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        self.count = 0
        for ident in identifiers:
            ident = ident.strip()
            if len(ident) < 3:  # too short to be a pseudonym; would match everywhere
                continue
            folded = normalise(ident, fold=True).text
            if self._automaton.add_word(folded, (len(folded), ident)):
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

    def __bool__(self) -> bool:
        return self.count > 0

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        if not self.count:
            return
        view = normalise(text, fold=True)
        for start, end, ident in self.find_folded(view.text):
            yield view.source_offset(start), view.source_offset(end - 1) + 1, ident

    def find_folded(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Matches in text already normalised and folded; offsets in that text."""
        if not self.count:
            return
        n = len(text)
        for end_index, (length, ident) in self._automaton.iter(text):
            start = end_index - length + 1
            end = end_index + 1
            if start > 0 and _is_word_char(text[start - 1]) and _is_word_char(text[start]):
                continue
            if end < n and _is_word_char(text[end]) and _is_word_char(text[end_index]):
                continue
            yield start, end, ident
