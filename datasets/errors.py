"""Errors of the datasets part that a user can cause with a bad input file."""

from __future__ import annotations

from pathlib import Path

from cirn.errors import CirnError


class MalformedInput(CirnError):
    """An input file that cannot be ingested; names the file, the line (when known) and the reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {reason}; nothing was published")
