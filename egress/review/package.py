"""Release packages: the approved files as submitted, a manifest and SHA256SUMS, in one zip.

Every file is read back from the content store and its hash checked against the snapshot
before it goes in; the zip is written under a temporary name and renamed into the outbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

from .store import ContentStore

FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entries carry no wall-clock time: same input, same bytes


def package_name(request) -> str:
    return f"{request.project}-request-{request.id}-round-{request.round}.zip"


def manifest(request, released_at: str) -> dict:
    decisions: dict[int, list[dict]] = {}
    for r in request.reviews:
        if r.round == request.round:
            decisions.setdefault(r.file_id, []).append({
                "reviewer": r.reviewer, "decision": r.decision.value, "override_reason": r.override_reason,
                "at": r.at.isoformat()})
    return {
        "request": request.id, "project": request.project, "requester": request.requester,
        "reason": request.reason, "round": request.round, "submitted_at": request.created_at.isoformat(),
        "released_at": released_at,
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "kind": f.kind, "verdict": f.verdict,
                   "justification": f.justification, "findings": f.reports,
                   "decisions": decisions.get(f.id, [])} for f in request.files],
        "reviews": [{"reviewer": s.reviewer, "submitted_at": s.at.isoformat()}
                    for s in request.submissions if s.round == request.round],
        "comments": [{"author": c.author, "body": c.body, "at": c.at.isoformat(), "round": c.round}
                     for c in request.comments if c.visibility.value == "requester"],
    }


def build_package(store: ContentStore, outbox: Path, request, released_at: str) -> tuple[str, str, int]:
    """Write the package; returns (file name, sha256, size). Raises Tampered if a snapshot changed."""
    folder = outbox / request.project
    folder.mkdir(parents=True, exist_ok=True)
    name = package_name(request)
    top = name.removesuffix(".zip")
    sums: list[str] = []
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".building-", suffix=".zip")
    os.close(handle)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for f in request.files:
                data = store.read_verified(f.sha256)
                z.writestr(zipfile.ZipInfo(f"{top}/files/{f.path}", FIXED_TIME), data)
                sums.append(f"{f.sha256}  files/{f.path}")
            body = json.dumps(manifest(request, released_at), ensure_ascii=False, indent=1).encode("utf-8")
            z.writestr(zipfile.ZipInfo(f"{top}/manifest.json", FIXED_TIME), body)
            sums.append(f"{hashlib.sha256(body).hexdigest()}  manifest.json")
            z.writestr(zipfile.ZipInfo(f"{top}/SHA256SUMS", FIXED_TIME), "\n".join(sums) + "\n")
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
        size = Path(tmp).stat().st_size
        os.chmod(tmp, 0o440)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name, digest, size


def verify_package(path: Path) -> list[str]:
    """Problems found when checking a package's SHA256SUMS against its content (empty: all good)."""
    problems = []
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        top = names[0].split("/", 1)[0]
        lines = z.read(f"{top}/SHA256SUMS").decode().splitlines()
        for line in lines:
            digest, _, member = line.partition("  ")
            if hashlib.sha256(z.read(f"{top}/{member}")).hexdigest() != digest:
                problems.append(f"{member} does not match its checksum")
    return problems
