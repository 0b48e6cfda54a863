"""Fixtures for the egress checks: a scan context shared by the tests (Presidio loads once) and
helpers that scan a file made in tmp_path and pick findings by check id."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirn.egress.checks import IdentifierSet, ScanReport, scan_paths
from cirn.egress.checks.context import ScanContext
from cirn.egress.checks.findings import FileReport
from cirn.egress.checks.scan import scan_file
from cirn.policies.egress_rules import EgressPolicy

IDENTIFIERS = ["P0001234", "S-4KQ2M7Z3XW9D5HTA", "SMP000777"]


@pytest.fixture(scope="session")
def ctx() -> ScanContext:
    return ScanContext(EgressPolicy(), IdentifierSet(IDENTIFIERS))


class Scanner:
    def __init__(self, tmp_path: Path, ctx: ScanContext):
        self.tmp_path, self.ctx = tmp_path, ctx

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    def __call__(self, name: str, content: str | bytes) -> FileReport:
        """Scan one file; the report of the file itself (not of archive members)."""
        return self.all(name, content)[0]

    def all(self, name: str, content: str | bytes) -> list[FileReport]:
        return scan_file(str(self.file(name, content)), self.ctx)

    def paths(self, *paths) -> ScanReport:
        return scan_paths(paths, self.ctx.policy, self.ctx.identifiers)


@pytest.fixture
def scan(tmp_path, ctx) -> Scanner:
    return Scanner(tmp_path, ctx)
