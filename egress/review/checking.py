"""Running the checks engine (cirn.egress.checks) on stored snapshots, one project context at a time."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger("cirn.egress.review")

# Written by provisioning into the project folder (cirn.egress.cli.PROJECT_IDENTIFIERS).
PROJECT_IDENTIFIERS = "egress-identifiers.txt"
SEVERITY = {"pass": 0, "review": 1, "block": 2}


def worst(verdicts) -> str:
    return max(verdicts, key=lambda v: SEVERITY.get(v, 2), default="pass")


class Checker:
    """Scans bytes under a file's own name, with the project's pseudonyms as identifiers.

    The checks engine keeps its PII models in the scan context, so contexts are cached per
    project (and rebuilt when the project's identifiers file changes).
    """

    def __init__(self, policy, project_dir):
        self.policy = policy          # the EgressPolicy section
        self.project_dir = project_dir  # callable slug -> Path
        self._contexts: dict[str, tuple[float, object]] = {}

    def _context(self, project: str):
        from cirn.egress.checks import IdentifierSet, ScanContext

        ids_file: Path = self.project_dir(project) / PROJECT_IDENTIFIERS
        mtime = ids_file.stat().st_mtime if ids_file.is_file() else 0.0
        cached = self._contexts.get(project)
        if cached and cached[0] == mtime:
            return cached[1]
        identifiers = IdentifierSet.from_file(ids_file) if mtime else IdentifierSet.empty()
        ctx = ScanContext(self.policy, identifiers)
        self._contexts[project] = (mtime, ctx)
        return ctx

    def scan(self, project: str, path: str, data: bytes) -> tuple[str, str, list[dict]]:
        """(kind, verdict, reports) for one file; a crash of the engine blocks the file (fail closed)."""
        try:
            from cirn.egress.checks import scan_bytes
            reports = [r.to_dict() for r in scan_bytes(data, path, self._context(project))]
        except Exception as exc:  # the engine must never let a file through by failing
            log.exception("checks failed on %s in %s", path, project)
            reports = [{"path": path, "sha256": "", "kind": "binary", "verdict": "block", "findings": [
                {"check": "blocked-type.check-failed", "severity": "block", "location": "file",
                 "message": f"the automatic checks could not read this file ({type(exc).__name__}); "
                            "a reviewer must not approve it without an override reason"}]}]
        kind = reports[0].get("kind", "binary") if reports else "binary"
        return kind, worst(r.get("verdict", "block") for r in reports), reports

    def warm_up(self) -> None:
        """Load the PII models once, so the first real submission is not the slow one."""
        try:
            from cirn.egress.checks import IdentifierSet, ScanContext, scan_bytes
            scan_bytes(b"warm up, call 010-0000-0000\n", "warmup.txt", ScanContext(self.policy, IdentifierSet.empty()))
        except Exception:  # pragma: no cover - best effort
            log.exception("checks warm-up failed")


def dumps(reports: list[dict]) -> str:
    return json.dumps(reports, ensure_ascii=False)
