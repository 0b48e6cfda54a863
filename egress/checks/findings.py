"""What a scan reports: `Finding`, `FileReport` and `ScanReport`, and how verdicts combine."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

CATEGORIES = (
    "small-count", "dominance", "identifier", "pii", "genomic-file", "genotype", "rare-variant",
    "individual-level", "image", "blocked-type", "archive", "size", "hidden-content",
)
KINDS = ("notebook", "table", "text", "image", "genomic", "archive", "document", "binary")


class Verdict(enum.IntEnum):
    """Ordered so that the most severe of several verdicts is simply `max()`."""

    PASS = 0
    REVIEW = 1
    BLOCK = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: "str | Verdict") -> "Verdict":
        return value if isinstance(value, Verdict) else cls[value.upper()]

    @property
    def exit_code(self) -> int:
        """The contract's exit status: 0 pass, 10 review, 20 block."""
        return {Verdict.PASS: 0, Verdict.REVIEW: 10, Verdict.BLOCK: 20}[self]


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer must look at: which check, how bad, where, and why."""

    check: str
    severity: Verdict
    location: str
    message: str

    def __post_init__(self) -> None:
        category = self.check.split(".", 1)[0]
        if category not in CATEGORIES or "." not in self.check:
            raise ValueError(f"check id {self.check!r} must be '<category>.<name>' with a category from {CATEGORIES}")

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity.label,
                "location": self.location, "message": self.message}

    def at(self, prefix: str) -> "Finding":
        """The same finding inside a container (a notebook cell, an output)."""
        location = f"{prefix}, {self.location}" if self.location else prefix
        return Finding(self.check, self.severity, location, self.message)


@dataclass
class FileReport:
    """The findings for one file (or one archive member, path `a.zip!/inner/path`)."""

    path: str
    sha256: str
    kind: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return max((f.severity for f in self.findings), default=Verdict.PASS)

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "kind": self.kind,
                "verdict": self.verdict.label, "findings": [f.to_dict() for f in self.findings]}


@dataclass
class ScanReport:
    """Everything one scan found; the overall verdict is the most severe of its files."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return max((f.verdict for f in self.files), default=Verdict.PASS)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_dict(self) -> dict:
        return {"verdict": self.verdict.label, "files": [f.to_dict() for f in self.files]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def findings(self, check_prefix: str = "") -> list[tuple[FileReport, Finding]]:
        """Every finding whose check id starts with `check_prefix`, with its file."""
        return [(fr, f) for fr in self.files for f in fr.findings if f.check.startswith(check_prefix)]
