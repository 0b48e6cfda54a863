"""Exact matches of participant and sample identifiers, all of them in one pass (Aho–Corasick)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import ahocorasick

from cirn.errors import CirnError


class IdentifierListError(CirnError):
    """The identifier list cannot be read."""


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class IdentifierSet:
    """Identifiers that must never leave; `find(text)` yields (start, end, identifier).

    A match counts only at word boundaries so that `P001` does not fire inside `P0012`: a
    pseudonym with a longer neighbour is a different pseudonym.
    """

    def __init__(self, identifiers: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        self.count = 0
        for ident in identifiers:
            ident = ident.strip()
            if len(ident) < 3:  # too short to be a pseudonym; would match everywhere
                continue
            if self._automaton.add_word(ident, ident):
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
        """The identifiers kept (what a checks worker process is sent to rebuild the set)."""
        return sorted(self._automaton.keys()) if self.count else []

    def __bool__(self) -> bool:
        return self.count > 0

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        if not self.count:
            return
        n = len(text)
        for end_index, ident in self._automaton.iter(text):
            start = end_index - len(ident) + 1
            end = end_index + 1
            if start > 0 and _is_word_char(text[start - 1]) and _is_word_char(ident[0]):
                continue
            if end < n and _is_word_char(text[end]) and _is_word_char(ident[-1]):
                continue
            yield start, end, ident
