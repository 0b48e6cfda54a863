"""Running the checks engine (cirn.egress.checks) on stored snapshots, one project context at a time."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

log = logging.getLogger("cirn.egress.review")

# Written by provisioning into the project folder (cirn.egress.cli.PROJECT_IDENTIFIERS).
PROJECT_IDENTIFIERS = "egress-identifiers.txt"
SEVERITY = {"pass": 0, "review": 1, "block": 2}


def worst(verdicts) -> str:
    return max(verdicts, key=lambda v: SEVERITY.get(v, 2), default="pass")


class Checker:
    """Scans bytes under a file's own name, with the project's pseudonyms as identifiers.

    With the policy's sandbox on (the default), each file is checked in one of a pool of worker
    processes (cirn.egress.checks.sandbox), started at the first scan or at `warm_up`, which
    hold only the file, the policy and the project's pseudonyms; this process keeps the
    database, the keys and the audit log. Without it, the checks run here, with their PII models
    kept in a scan context per project (rebuilt when the project's identifiers file changes).
    """

    def __init__(self, policy, project_dir):
        self.policy = policy          # the EgressPolicy section
        self.project_dir = project_dir  # callable slug -> Path
        self._contexts: dict[str, tuple[float, object]] = {}
        self._sandbox = None
        self._sandbox_lock = threading.Lock()

    @property
    def sandbox(self):
        """The worker pool, started on first use (None when the policy turns the sandbox off)."""
        if not self.policy.sandbox.enabled:
            return None
        with self._sandbox_lock:
            if self._sandbox is None:
                from cirn.egress.checks import ScanSandbox
                self._sandbox = ScanSandbox(self.policy)
            return self._sandbox

    def close(self) -> None:
        with self._sandbox_lock:
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None

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
            if self.sandbox is not None:
                reports = self.sandbox.scan(data, path, self._context(project).identifiers)
            else:
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
        """Start the workers (or load the PII models here), so the first real submission is not the slow one."""
        try:
            from cirn.egress.checks import IdentifierSet, ScanContext, scan_bytes
            if self.sandbox is not None:
                self.sandbox.scan(b"warm up\n", "warmup.txt")
                return
            scan_bytes(b"warm up, call 010-0000-0000\n", "warmup.txt", ScanContext(self.policy, IdentifierSet.empty()))
        except Exception:  # pragma: no cover - best effort
            log.exception("checks warm-up failed")


def dumps(reports: list[dict]) -> str:
    return json.dumps(reports, ensure_ascii=False)
