"""The library API that the egress-review service uses: `scan_bytes`, `scan_paths` and
`ScanContext`, all exported by `cirn.egress.checks` (its modules are internals)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

import cirn.egress.checks as checks
from cirn.egress.checks import ScanContext, Verdict, scan_bytes, scan_paths
from cirn.policies.egress_rules import EgressPolicy

from egress_testing import locations

REPO = Path(__file__).resolve().parents[3]
TABLE = b"region,n\nSeoul,120\nBusan,4\n"


def test_package_exports_the_api():
    for name in ("scan_paths", "scan_bytes", "ScanContext", "IdentifierSet", "ScanReport", "FileReport",
                 "Finding", "Verdict", "ScanInputError"):
        assert name in checks.__all__ and hasattr(checks, name)


def test_scan_bytes_with_a_reused_context(ctx):
    reports = scan_bytes(TABLE, "out/table.csv", ctx)
    assert [r.path for r in reports] == ["out/table.csv"]
    assert reports[0].kind == "table" and reports[0].verdict == Verdict.BLOCK
    assert locations(reports[0], "small-count.threshold") == ["row 2, column 'n'"]
    # the same context serves the next file, with its identifiers
    again = scan_bytes(b"participant P0001234 was seen\n", "notes.txt", ctx)
    assert [f.check for f in again[0].findings] == ["identifier.exact"]


def test_scan_bytes_with_a_policy_and_identifiers():
    reports = scan_bytes(b"sample SMP424242 sequenced\n", "notes.txt", EgressPolicy(), identifiers=["SMP424242"])
    assert [f.check for f in reports[0].findings] == ["identifier.exact"]
    assert scan_bytes(b"sample SMP424242 sequenced\n", "notes.txt", EgressPolicy())[0].verdict == Verdict.PASS


def test_scan_bytes_opens_archives_in_memory(ctx):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/table.csv", TABLE)
    reports = scan_bytes(buf.getvalue(), "results.zip", ctx)
    assert [r.path for r in reports] == ["results.zip", "results.zip!/inner/table.csv"]
    assert reports[1].verdict == Verdict.BLOCK


def test_identifiers_beside_a_context_are_refused(ctx):
    with pytest.raises(TypeError, match="ScanContext"):
        scan_bytes(TABLE, "t.csv", ctx, identifiers=["P0001234"])


def test_scan_context_takes_plain_identifier_lists():
    context = ScanContext(EgressPolicy(), ["P0009999"])
    assert context.identifiers and context.identifiers.count == 1
    assert ScanContext(None, None).identifiers.count == 0


def test_scan_paths_reuses_a_context(tmp_path, ctx):
    (tmp_path / "notes.txt").write_text("P0001234 only\n", encoding="utf-8")
    report = scan_paths([tmp_path], context=ctx)
    assert report.verdict == Verdict.BLOCK and report.findings("identifier.")


def test_review_service_imports_only_the_public_api():
    """The review service and its web front end import the engine's package, not its modules."""
    internal = re.compile(r"cirn\.egress\.checks\.\w+")
    for folder in ("egress/review", "egress/service"):
        for path in (REPO / folder).rglob("*.py"):
            imports = [ln for ln in path.read_text(encoding="utf-8").splitlines() if "import" in ln]
            assert not [ln for ln in imports if internal.search(ln)], f"{path} imports checks internals"


def test_policy_beside_a_context_is_refused(tmp_path, ctx):
    with pytest.raises(TypeError, match="ScanContext"):
        scan_paths([tmp_path], EgressPolicy(), context=ctx)
