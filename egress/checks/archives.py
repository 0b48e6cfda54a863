"""Opening archives (zip, tar, gzip, bzip2, xz) member by member, with limits against bombs.

Nothing is extracted to disk: members are read into memory up to the policy's limits, and a
member whose declared or actual size breaks a limit is reported, not read.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from cirn.policies.egress_rules import ArchiveLimits

from .decoding import decode_metadata
from .findings import Finding, Verdict
from .sniff import sniff_genomic_head


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
        # (location, text, hidden) of what the archive says besides its members: names, comments,
        # extra fields, tar headers; scanned like text (`metadata_text.py`)
        self.texts: list[tuple[str, str, bool]] = []
        self._stream_starts = [0]

    def _text(self, location: str, value: bytes | str, hidden: bool = True) -> None:
        if isinstance(value, bytes):
            value = decode_metadata(value)
        if value.strip():
            self.texts.append((location, value, hidden))

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
        self._text("archive comment", zf.comment)
        self._text("member names", "\n".join(info.filename for info in infos), hidden=False)
        self.findings += zip_layout_findings(self.data, zf)
        for count, info in enumerate(infos, start=1):
            if self._too_many(count):
                return
            where = f"member '{info.filename}'"
            self._text(f"{where}, comment", info.comment)
            self._text(f"{where}, extra field", _extra_text(info.extra))
            local = _local_extra(self.data, info)
            if local != info.extra:
                self._text(f"{where}, local extra field", _extra_text(local))
            if info.is_dir():
                if not info.file_size and not info.compress_size:
                    continue
                # a folder entry carrying bytes: unzip tools create the folder and drop the data
                self._problem("archive.folder-with-data", where,
                              f"a folder entry holds {info.file_size} bytes that no unzip tool shows; remove it")
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
            yield Member(info.filename.rstrip("/") if info.is_dir() else info.filename, content)

    def _tar(self) -> Iterator[Member]:
        try:
            tf = tarfile.open(fileobj=io.BytesIO(self.data), mode="r:*")
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self._problem("archive.corrupt", "file", f"the tar archive cannot be read ({exc}); it may be truncated")
            return
        count = 0
        names: list[str] = []
        try:
            for info in tf:
                count += 1
                if self._too_many(count):
                    return
                names.append(info.name)
                where = f"member '{info.name}'"
                self._tar_headers(info, where, tf.pax_headers)
                if not info.isfile():
                    if info.size and not (info.isdir() or info.issym() or info.islnk()):
                        self._problem("archive.special-member", where, f"a {_tar_type(info)} entry with {info.size} bytes of data cannot be checked")
                    continue
                if info.size > self.max_member_bytes:
                    self._problem("size.cap", where, f"member of {info.size} bytes is over the cap of {self.max_member_bytes} bytes")
                    continue
                if not self._take(info.size, where):
                    return
                fh = tf.extractfile(info)
                yield Member(info.name, fh.read() if fh else b"")
            self._text("member names", "\n".join(names), hidden=False)
            self._text("archive PAX header", _pax_text(tf.pax_headers))
            self._tar_trailing(tf)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self._problem("archive.corrupt", "file", f"the tar archive breaks off after {count} members ({exc}); it may be truncated")

    def _tar_headers(self, info: tarfile.TarInfo, where: str, global_pax: dict) -> None:
        """Every header field a person could write into: PAX records (tarfile has already used
        path, linkpath and sizes, but any other key is kept; the archive's global records, which
        tarfile copies into every member, are read once), link target, owner names."""
        own = {k: v for k, v in info.pax_headers.items() if global_pax.get(k) != v}
        self._text(f"{where}, PAX header", _pax_text(own))
        fields = [f"linkname: {info.linkname}" if info.linkname else "", f"uname: {info.uname}" if info.uname else "",
                  f"gname: {info.gname}" if info.gname else ""]
        self._text(f"{where}, header", "\n".join(f for f in fields if f))

    def _tar_trailing(self, tf: tarfile.TarFile) -> None:
        """Bytes after the end-of-archive blocks: tar stops reading there, so nothing shows them."""
        fileobj = tf.fileobj
        try:
            fileobj.seek(tf.offset)
            rest = fileobj.read(self.max_member_bytes + 1)
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self._problem("archive.corrupt", "file", f"the end of the tar archive cannot be read ({exc})")
            return
        if rest.strip(b"\0"):
            self._problem("archive.trailing-data", "file",
                          f"{len(rest.rstrip(bytes(1)))} bytes after the end of the tar archive that no tar tool shows; remove them")

    def _single_stream(self) -> Iterator[Member]:
        """gzip/bzip2/xz of one file, decompressed in bounded steps so a bomb stops at the limit,
        and to the end: streams joined one after another (`cat a.gz b.gz`) are one file to
        gunzip, so all of them are read; bytes after the last stream that are not padding are
        blocked (no tool shows them)."""
        limit = min(self.budget.remaining, self.max_member_bytes)
        inner = self.name.rsplit("/", 1)[-1]
        for suffix in (".gz", ".tgz", ".bz2", ".xz"):
            if inner.endswith(suffix):
                inner = inner[: -len(suffix)]
                break
        inner = inner or "content"
        out = bytearray()
        rest = self.data
        streams = 0
        while rest:
            if streams and not rest.startswith(STREAM_MAGIC[self.fmt]):
                if rest.strip(b"\0"):
                    self._problem("archive.trailing-data", "file",
                                  f"{len(rest)} bytes after the last {self.fmt} stream that no tool shows; remove them")
                break
            if self.fmt == "gzip":
                self._text(f"stream {streams + 1}, gzip header", _gzip_header_text(rest))
            dec = _decompressor(self.fmt)
            try:
                out += dec.decompress(rest, limit + 1 - len(out))
            except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
                self._problem("archive.corrupt", "file", f"the {self.fmt} stream cannot be decompressed ({exc})")
                return
            if len(out) > limit:
                self._problem("archive.expanded-size", f"member '{inner}'", f"expands past {limit} bytes, the limit for one archive or file")
                return
            streams += 1
            if not dec.eof:
                self._problem("archive.corrupt", "file", f"the {self.fmt} stream ends early; it may be truncated")
                break
            rest = dec.unused_data
            if streams > 1:
                head = sniff_genomic_head(bytes(out[self._stream_starts[-1]:self._stream_starts[-1] + 8192]))
                if head:
                    self._problem(f"genomic-file.{head}", f"member '{inner}', stream {streams}",
                                  f"stream {streams} of the {self.fmt} file is a raw {head.upper()} file")
            self._stream_starts.append(len(out))
        self.budget.remaining -= len(out)
        yield Member(inner, bytes(out))


STREAM_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}


def _gzip_header_text(stream: bytes) -> str:
    """The text a gzip header can carry (RFC 1952): the extra field, the file name, the comment."""
    if len(stream) < 10:
        return ""
    flags, pos, out = stream[3], 10, []
    if flags & 0x04:
        xlen = int.from_bytes(stream[pos:pos + 2], "little")
        out.append(_extra_text(stream[pos + 2:pos + 2 + xlen]))
        pos += 2 + xlen
    for flag, label in ((0x08, "name"), (0x10, "comment")):
        if flags & flag:
            end = stream.find(b"\0", pos)
            end = len(stream) if end < 0 else end
            out.append(f"{label}: {decode_metadata(stream[pos:end])}")
            pos = end + 1
    return "\n".join(out)


def _decompressor(fmt: str):
    if fmt == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if fmt == "bzip2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


def _extra_text(extra: bytes) -> str:
    """The text of a zip extra field's records other than the well-known binary ones (sizes,
    times, owner ids), which hold no text; Info-ZIP's Unicode path and comment records are text."""
    out, i = [], 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4:i + 4 + size]
        i += 4 + size
        if tag in BINARY_EXTRA_TAGS:
            continue
        if tag in (0x7075, 0x6375):  # Info-ZIP Unicode path / comment: version, CRC, UTF-8 text
            body = body[5:]
        out.append(body.decode("utf-8", "replace") if tag in (0x7075, 0x6375) else decode_metadata(body))
    if i < len(extra):
        out.append(decode_metadata(extra[i:]))
    return "\n".join(out)


def _extra_tags(extra: bytes) -> set[int]:
    tags, i = set(), 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        tags.add(tag)
        i += 4 + size
    return tags


# zip64 sizes, NTFS and Unix times and ids, extended timestamp, Info-ZIP Unix, alignment padding
BINARY_EXTRA_TAGS = {0x0001, 0x000A, 0x000D, 0x5455, 0x5855, 0x7855, 0x7875, 0xA11E, 0xD935, 0xCAFE}


def _local_extra(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's local header extra field, which may differ from the central directory's."""
    at = info.header_offset
    if data[at:at + 4] != b"PK\x03\x04" or at + 30 > len(data):
        return b""
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    return data[at + 30 + name_len:at + 30 + name_len + extra_len]


def zip_layout_findings(data: bytes, zf: zipfile.ZipFile) -> list[Finding]:
    """Bytes of a zip that belong to no member, header or directory (before the first member,
    between members, after the end record): unzip tools skip them, so they are blocked."""
    covered: list[tuple[int, int]] = []
    for info in zf.infolist():
        at = info.header_offset
        if data[at:at + 4] != b"PK\x03\x04" or at + 30 > len(data):
            continue
        name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
        end = at + 30 + name_len + extra_len + info.compress_size
        if info.flag_bits & 0x08:  # a data descriptor follows: optional signature, CRC, two sizes
            zip64 = 0x0001 in _extra_tags(data[at + 30 + name_len:at + 30 + name_len + extra_len])
            end += (4 if data[end:end + 4] == b"PK\x07\x08" else 0) + 4 + (16 if zip64 else 8)
        covered.append((at, end))
    end_record = _end_record(data, zf.comment)
    if end_record is None:
        return []
    covered.append((zf.start_dir, end_record))
    covered.sort()
    hidden, pos = 0, 0
    for start, end in covered:
        if start > pos:
            hidden += len(data[pos:start].strip(b"\0"))
        pos = max(pos, end)
    hidden += len(data[pos:].strip(b"\0"))
    if not hidden:
        return []
    return [Finding("archive.hidden-data", Verdict.BLOCK, "file",
                    f"{hidden} bytes belong to no member, header or directory, so unzip tools skip them; rebuild the archive")]


def _end_record(data: bytes, comment: bytes) -> int | None:
    """Where the end-of-central-directory record (and its comment) ends."""
    p = data.rfind(b"PK\x05\x06")
    while p >= 0:
        if p + 22 <= len(data):
            length = struct.unpack_from("<H", data, p + 20)[0]
            if data[p + 22:p + 22 + length] == comment and length == len(comment):
                return p + 22 + length
        p = data.rfind(b"PK\x05\x06", 0, p)
    return None


def _pax_text(headers: dict) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


def _tar_type(info: tarfile.TarInfo) -> str:
    return {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}.get(info.type, "special")
