"""The content-addressed store of snapshots: copy, hash, rename; what was reviewed is what is released.

Blobs live at `<root>/<sha[:2]>/<sha>`, read-only. A blob is first written under `<root>/tmp/`
and renamed into place only when the whole submission is accepted, so a refused submission
leaves nothing behind; the same content submitted twice is stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cirn.errors import CirnError

CHUNK = 1 << 20


class TooLarge(CirnError):
    """A file is over the policy's size cap."""


class Tampered(CirnError):
    """A stored blob no longer has the hash it is stored under."""


@dataclass
class Staged:
    """A blob written to the store's tmp folder, not yet in place."""

    tmp: Path
    sha256: str
    size: int


class ContentStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def stage_fd(self, fd: int, limit: int, name: str) -> Staged:
        """Copy from an open file descriptor into tmp/, hashing as it goes; refuse past `limit` bytes."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        handle, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="stage-")
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    block = os.read(fd, CHUNK)
                    if not block:
                        break
                    size += len(block)
                    if size > limit:
                        raise TooLarge(f"{name} is over the size cap of {limit} bytes; make it smaller "
                                       "(or split it) before asking for its release")
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            os.unlink(tmp_name)
            raise
        return Staged(Path(tmp_name), digest.hexdigest(), size)

    def stage_bytes(self, data: bytes) -> Staged:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="stage-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return Staged(Path(tmp_name), hashlib.sha256(data).hexdigest(), len(data))

    def commit(self, staged: Staged) -> Path:
        """Move a staged blob into place (or drop it if the same content is already stored)."""
        final = self.path(staged.sha256)
        if final.exists():
            staged.tmp.unlink(missing_ok=True)
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        staged.tmp.chmod(0o444)
        os.replace(staged.tmp, final)
        return final

    @staticmethod
    def discard(staged: list[Staged]) -> None:
        for s in staged:
            s.tmp.unlink(missing_ok=True)

    def read_verified(self, sha256: str) -> bytes:
        """The blob's bytes, after checking they still hash to `sha256`."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise Tampered(f"stored snapshot {sha256} does not match its hash; it was changed on disk "
                           "and cannot be released")
        return data

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("??/*") if p.is_file())
