"""Uploaded documents: what makes a file acceptable, and the content-addressed store they live in.

Files are stored by sha256 under $CIRN_HOME/applications/store/<aa>/<sha256> (written to a
temporary name, hashed, then renamed), so what the committees read is exactly what was uploaded
and a name chosen by the uploader never becomes a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from cirn.errors import Conflict
from cirn.policies.application_rules import ApplicationPolicy
from cirn.state import StateFolder

SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class DocumentRejected(Conflict):
    """An upload that cannot be accepted; the message says what to upload instead."""


def store_root(state: StateFolder) -> Path:
    return state.root / "applications" / "store"


def safe_filename(name: str) -> str:
    """The uploader's file name, reduced to something safe to show and to offer as a download name."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = SAFE_NAME.sub("_", base).strip(" .") or "document"
    return base[:120]


def looks_like_pdf(content: bytes) -> bool:
    """A PDF starts with %PDF- (within the first KB, as readers allow) and ends with %%EOF."""
    head = content[:1024]
    return b"%PDF-" in head and head.lstrip().startswith(b"%PDF-") and b"%%EOF" in content[-2048:]


def check_document(policy: ApplicationPolicy, kind: str, filename: str, content: bytes) -> None:
    """Raise DocumentRejected naming the problem; return None when the upload is acceptable."""
    required = policy.document(kind)
    if required is None:
        known = ", ".join(d.id for d in policy.required_documents)
        raise DocumentRejected(f"unknown document kind {kind!r}; upload one of: {known}")
    if not content:
        raise DocumentRejected(f"{required.title}: the file {filename!r} is empty; upload the signed document")
    if len(content) > policy.max_upload_bytes:
        raise DocumentRejected(f"{required.title}: {filename!r} is {len(content) / 1048576:.1f} MB; the limit is "
                               f"{policy.max_upload_mb:g} MB, upload a smaller PDF")
    if required.pdf_only and not looks_like_pdf(content):
        raise DocumentRejected(f"{required.title}: {filename!r} is not a PDF; upload it as a PDF file")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    path: Path


def store_bytes(state: StateFolder, content: bytes) -> StoredFile:
    """Store `content` by its hash (idempotent: the same bytes are stored once)."""
    digest = hashlib.sha256(content).hexdigest()
    root = store_root(state)
    final = root / digest[:2] / digest
    if final.is_file():
        return StoredFile(digest, len(content), final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    # Hash what reached the disk, not what we meant to write.
    with open(tmp, "rb") as fh:
        if hashlib.sha256(fh.read()).hexdigest() != digest:
            tmp.unlink(missing_ok=True)
            raise OSError(f"stored copy of upload {digest} does not match its hash; try again")
    os.chmod(tmp, 0o440)
    os.replace(tmp, final)
    return StoredFile(digest, len(content), final)


def stored_path(state: StateFolder, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValueError(f"not a sha256: {sha256!r}")
    return store_root(state) / sha256[:2] / sha256
