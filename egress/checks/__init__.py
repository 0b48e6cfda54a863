"""The egress checks engine: what `cirn egress scan` and the egress-review service run on files
before anything leaves the enclave. Entry point: `scan_paths(paths, policy, identifiers)`."""

from .findings import FileReport, Finding, ScanReport, Verdict
from .identifiers import IdentifierSet
from .scan import ScanInputError, scan_bytes, scan_paths

__all__ = ["FileReport", "Finding", "IdentifierSet", "ScanInputError", "ScanReport", "Verdict", "scan_bytes", "scan_paths"]
