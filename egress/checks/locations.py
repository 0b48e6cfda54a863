"""Turning an offset in a text into a location a reviewer can find: line and column, or table row."""

from __future__ import annotations

import bisect


class LineIndex:
    """Offsets of a text as 'line L, col C'. Lines are counted from the nearest offset already
    looked up before the one asked for (checks report in text order, each check from the start
    again), so a text with few findings is never indexed line by line."""

    def __init__(self, text: str):
        self.text = text
        self._offsets = [0]  # sorted offsets looked up so far, and the line each is on
        self._lines = [1]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of `offset`."""
        i = bisect.bisect_right(self._offsets, offset) - 1
        known = self._offsets[i]
        line = self._lines[i] + self.text.count("\n", known, offset)
        if offset != known:
            self._offsets.insert(i + 1, offset)
            self._lines.insert(i + 1, line)
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

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
        line, _col = self.lines.line_col(offset)
        line_start = self.lines.line_start(offset)
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
