"""Opening archives (zip, tar, gzip, bzip2, xz) member by member, with limits against bombs.

Nothing is extracted to disk: members are read into memory up to the policy's limits, and a
member whose declared or actual size breaks a limit is reported, not read.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from cirn.policies.egress_rules import ArchiveLimits

from .findings import Finding, Verdict


@dataclass
class Budget:
    """Bytes that may still be expanded from the outermost archive down (nested ones share it)."""

    remaining: int


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes


class ArchiveReader:
    """Yields members; problems found on the way are collected in `findings` (all blocking)."""

    def __init__(self, data: bytes, fmt: str, limits: ArchiveLimits, budget: Budget, max_member_bytes: int, name: str = ""):
        self.data, self.fmt, self.limits, self.budget = data, fmt, limits, budget
        self.max_member_bytes = max_member_bytes
        self.name = name
        self.findings: list[Finding] = []

    def _problem(self, check: str, location: str, message: str) -> None:
        self.findings.append(Finding(check, Verdict.BLOCK, location, message))

    def _take(self, size: int, location: str) -> bool:
        if size > self.budget.remaining:
            self._problem("archive.expanded-size", location,
                          f"expanding it would pass the limit of {self.limits.max_expanded_bytes} bytes for one archive")
            return False
        self.budget.remaining -= size
        return True

    def members(self) -> Iterator[Member]:
        if self.fmt in ("zip",):
            yield from self._zip()
        elif self.fmt in ("tar",):
            yield from self._tar()
        elif self.fmt in ("gzip", "bzip2", "xz"):
            yield from self._single_stream()
        else:
            self._problem("archive.unsupported", "file", f"{self.fmt} archives cannot be opened here, so they cannot be checked; use zip or tar.gz")

    def _too_many(self, count: int) -> bool:
        if count > self.limits.max_members:
            self._problem("archive.members", "file", f"more than {self.limits.max_members} members; the rest were not checked")
            return True
        return False

    def _zip(self) -> Iterator[Member]:
        try:
            zf = zipfile.ZipFile(io.BytesIO(self.data))
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self._problem("archive.corrupt", "file", f"the zip archive cannot be read ({exc}); it may be truncated")
            return
        for count, info in enumerate(infos, start=1):
            if self._too_many(count):
                return
            if info.is_dir():
                continue
            where = f"member '{info.filename}'"
            if info.flag_bits & 0x1:
                self._problem("archive.encrypted", where, "an encrypted member cannot be checked")
                continue
            if info.file_size > self.max_member_bytes:
                self._problem("size.cap", where, f"member of {info.file_size} bytes is over the cap of {self.max_member_bytes} bytes")
                continue
            if info.compress_size and info.file_size / info.compress_size > self.limits.max_ratio and info.file_size > 1024 * 1024:
                self._problem("archive.bomb", where, f"expands {info.file_size / info.compress_size:.0f}-fold (limit {self.limits.max_ratio:g}): a decompression bomb")
                continue
            if not self._take(info.file_size, where):
                return
            try:
                with zf.open(info) as fh:
                    content = fh.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
                self._problem("archive.corrupt", where, f"the member cannot be read ({exc})")
                continue
            if len(content) > info.file_size:  # the header lied about the size
                self._problem("archive.corrupt", where, "the member is larger than its header says")
                continue
            yield Member(info.filename, content)

    def _tar(self) -> Iterator[Member]:
        try:
            tf = tarfile.open(fileobj=io.BytesIO(self.data), mode="r:*")
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self._problem("archive.corrupt", "file", f"the tar archive cannot be read ({exc}); it may be truncated")
            return
        count = 0
        try:
            for info in tf:
                count += 1
                if self._too_many(count):
                    return
                if not info.isfile():
                    continue
                where = f"member '{info.name}'"
                if info.size > self.max_member_bytes:
                    self._problem("size.cap", where, f"member of {info.size} bytes is over the cap of {self.max_member_bytes} bytes")
                    continue
                if not self._take(info.size, where):
                    return
                fh = tf.extractfile(info)
                yield Member(info.name, fh.read() if fh else b"")
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self._problem("archive.corrupt", "file", f"the tar archive breaks off after {count} members ({exc}); it may be truncated")

    def _single_stream(self) -> Iterator[Member]:
        """gzip/bzip2/xz of one file: decompressed in bounded steps so a bomb stops at the limit."""
        if self.fmt == "gzip":
            dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.fmt == "bzip2":
            dec = bz2.BZ2Decompressor()
        else:
            dec = lzma.LZMADecompressor()
        limit = min(self.budget.remaining, self.max_member_bytes)
        inner = self.name.rsplit("/", 1)[-1]
        for suffix in (".gz", ".tgz", ".bz2", ".xz"):
            if inner.endswith(suffix):
                inner = inner[: -len(suffix)]
                break
        inner = inner or "content"
        try:
            out = dec.decompress(self.data, limit + 1)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            self._problem("archive.corrupt", "file", f"the {self.fmt} stream cannot be decompressed ({exc})")
            return
        if len(out) > limit:
            self._problem("archive.expanded-size", f"member '{inner}'", f"expands past {limit} bytes, the limit for one archive or file")
            return
        finished = getattr(dec, "eof", True)
        if not finished:
            self._problem("archive.corrupt", "file", f"the {self.fmt} stream ends early; it may be truncated")
        self.budget.remaining -= len(out)
        yield Member(inner, out)
