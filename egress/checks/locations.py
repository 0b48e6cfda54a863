"""Turning an offset in a text into a location a reviewer can find: line and column, or table row."""

from __future__ import annotations

import bisect


class LineIndex:
    """Line starts of a text, so that an offset becomes 'line L, col C' in O(log n)."""

    def __init__(self, text: str):
        self.text = text
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        # built on the first lookup: most texts have no finding and never need it
        if self._starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._starts = starts
        return self._starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of `offset`."""
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def text_location(self, offset: int) -> str:
        line, col = self.line_col(offset)
        return f"line {line}, col {col}"


class DelimitedLocator:
    """Offsets in CSV/TSV text as 'row R, column 'X'' (row 1 is the first row after the header)."""

    def __init__(self, text: str, delimiter: str, header: list[str] | None = None):
        self.text = text
        self.lines = LineIndex(text)
        self.delimiter = delimiter
        self.header = header or []

    def __call__(self, offset: int) -> str:
        line, col = self.lines.line_col(offset)
        line_start = self.lines.starts[line - 1]
        field = _field_index(self.text[line_start:offset], self.delimiter)
        name = self.header[field] if field < len(self.header) else f"#{field + 1}"
        if line == 1:
            return f"header, column '{name}'"
        return f"row {line - 1}, column '{name}'"


def _field_index(prefix: str, delimiter: str) -> int:
    """Which field of a delimited line an offset falls in (delimiters in quotes don't count)."""
    count, quoted = 0, False
    for ch in prefix:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count
