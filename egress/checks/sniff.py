"""File types by content (magic bytes and structure), never by name alone.

The name is only a tie-breaker for text that could be several things (an .ipynb that is not
valid JSON is still reported as a broken notebook); a genomic file is blocked whatever it is named.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

BASES_LINE = re.compile(rb"^[ACGTNacgtn.\-*]+$")
SAM_HEADER = re.compile(rb"^@(HD|SQ|RG|PG|CO)\t")
CIGAR = re.compile(rb"^(\*|([0-9]+[MIDNSHP=X])+)$")


@dataclass(frozen=True)
class Sniffed:
    """What a file is: the contract's `kind` and a precise `fmt` (vcf, bam, csv, zip, png …)."""

    kind: str
    fmt: str


def _bgzf_payload(data: bytes) -> bytes | None:
    """The first decompressed bytes of a gzip/BGZF stream (enough to see BAM/VCF/BCF headers)."""
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(data[:65536], 4096)
    except zlib.error:
        return None


def sniff(data: bytes, name: str = "") -> Sniffed:
    """Classify `data` (the whole file, or at least its first 64 KiB plus its last bytes)."""
    head = data[:8192]
    if head.startswith(b"\x1f\x8b"):
        payload = _bgzf_payload(data) or b""
        if payload.startswith(b"BAM\x01"):
            return Sniffed("genomic", "bam")
        if payload.startswith(b"BCF\x02") or payload.startswith(b"BCF\x04"):
            return Sniffed("genomic", "bcf")
        if payload.startswith(b"##fileformat=VCF"):
            return Sniffed("genomic", "vcf")
        if payload and _text_genomic(payload):
            return Sniffed("genomic", _text_genomic(payload))
        if len(payload) >= 512 and payload[257:262] == b"ustar":
            return Sniffed("archive", "tar")
        return Sniffed("archive", "gzip")
    if head.startswith(b"CRAM"):
        return Sniffed("genomic", "cram")
    if head.startswith(b"BAM\x01"):
        return Sniffed("genomic", "bam")
    if head.startswith(b"BCF\x02") or head.startswith(b"BCF\x04"):
        return Sniffed("genomic", "bcf")
    if head.startswith(b"\x6c\x1b\x01") or head.startswith(b"\x6c\x1b\x00"):
        return Sniffed("genomic", "plink-bed")
    if head.startswith(b"SQLite format 3\x00"):
        return Sniffed("binary", "sqlite")
    if head[8:12] == b"DUCK":
        return Sniffed("binary", "duckdb")
    if head.startswith(b"PAR1"):
        return Sniffed("table", "parquet")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed("document", "ole2")
    if head.startswith(b"%PDF"):
        return Sniffed("document", "pdf")
    if head.startswith(b"BZh"):
        return Sniffed("archive", "bzip2")
    if head.startswith(b"\xfd7zXZ\x00"):
        return Sniffed("archive", "xz")
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return Sniffed("archive", "7z")
    if head.startswith(b"Rar!"):
        return Sniffed("archive", "rar")
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Sniffed("archive", "tar")
    image = _sniff_raster(head)
    if image:
        return Sniffed("image", image)
    if b"\x00" in head:
        return Sniffed("binary", "binary")
    return _sniff_text(head, name)


def _sniff_raster(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"BM") and len(head) > 14:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _sniff_zip(data: bytes) -> Sniffed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return Sniffed("archive", "zip")  # a broken zip is reported by the archive reader
    if "xl/workbook.xml" in names:
        return Sniffed("table", "xlsx")
    if "word/document.xml" in names:
        return Sniffed("document", "docx")
    if "ppt/presentation.xml" in names:
        return Sniffed("document", "pptx")
    return Sniffed("archive", "zip")


def sniff_genomic_head(head: bytes) -> str | None:
    """The genomic format that `head` (the first bytes of a file or stream) starts, or None."""
    if head.startswith(b"BAM\x01"):
        return "bam"
    if head.startswith(b"BCF\x02") or head.startswith(b"BCF\x04"):
        return "bcf"
    if head.startswith(b"CRAM"):
        return "cram"
    return _text_genomic(head.lstrip(b"\xef\xbb\xbf"))


def _text_genomic(head: bytes) -> str | None:
    """Raw genomic text formats, recognised by their records rather than their names."""
    if head.startswith(b"##fileformat=VCF"):
        return "vcf"
    lines = head.split(b"\n")[:12]
    if lines and SAM_HEADER.match(lines[0]):
        return "sam"
    if len(lines) >= 4 and lines[0].startswith(b"@") and lines[2].startswith(b"+") \
            and BASES_LINE.match(lines[1].strip()) and len(lines[1].strip()) == len(lines[3].strip()) \
            and len(lines[1].strip()) >= 10:
        return "fastq"
    if len(lines) >= 2 and lines[0].startswith(b">") and BASES_LINE.match(lines[1].strip()) \
            and len(lines[1].strip()) >= 10:
        return "fasta"
    sam_rows = 0
    for line in lines[:-1]:
        fields = line.split(b"\t")
        if len(fields) >= 11 and fields[1].isdigit() and fields[3].isdigit() and CIGAR.match(fields[5]):
            sam_rows += 1
    if sam_rows >= 1 and sam_rows >= len([ln for ln in lines[:-1] if ln.strip()]) // 2:
        return "sam"
    return None


def _sniff_text(head: bytes, name: str) -> Sniffed:
    genomic = _text_genomic(head.lstrip(b"\xef\xbb\xbf"))
    if genomic:
        return Sniffed("genomic", genomic)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = stripped[:2048].lower()
    if stripped.startswith(b"{") and b'"cells"' in head and b'"nbformat"' in head:
        return Sniffed("notebook", "ipynb")
    if name.lower().endswith(".ipynb"):
        return Sniffed("notebook", "ipynb")  # parsed later; invalid JSON becomes a finding
    if b"<svg" in lower and (lower.startswith(b"<?xml") or lower.startswith(b"<svg") or lower.startswith(b"<!doctype svg")):
        return Sniffed("image", "svg")
    if lower.startswith(b"<!doctype html") or lower.startswith(b"<html") or b"<table" in lower:
        return Sniffed("table" if b"<table" in head.lower() else "text", "html")
    if stripped.startswith(b"{") or stripped.startswith(b"["):
        return Sniffed("text", "json")
    delimiter = detect_delimiter(head)
    if delimiter:
        return Sniffed("table", "tsv" if delimiter == b"\t" else "csv")
    first_line = stripped.split(b"\n", 1)[0]
    # ragged rows break the field-count test; a .csv/.tsv name whose header has fields decides it
    if name.lower().endswith(".tsv") and b"\t" in first_line:
        return Sniffed("table", "tsv")
    if name.lower().endswith(".csv") and b"," in first_line:
        return Sniffed("table", "csv")
    return Sniffed("text", "text")


def detect_delimiter(head: bytes) -> bytes | None:
    """A delimiter that splits the first lines into the same number (≥2) of fields."""
    lines = [ln for ln in head.split(b"\n")[:20] if ln.strip()]
    if len(head) >= 8192 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut-off head may be partial
    if len(lines) < 2:
        return None
    for delim in (b"\t", b",", b";", b"|"):
        counts = {_field_count(ln, delim) for ln in lines}
        if len(counts) == 1 and counts.pop() >= 2:
            return delim
    return None


def _field_count(line: bytes, delim: bytes) -> int:
    """Fields in one CSV line, with delimiters inside double quotes not counted."""
    count, quoted = 1, False
    for ch in line.rstrip(b"\r"):
        if ch == 34:  # '"'
            quoted = not quoted
        elif not quoted and ch == delim[0]:
            count += 1
    return count
