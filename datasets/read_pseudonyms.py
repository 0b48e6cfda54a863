"""FASTQ/BAM files for a project's extract: a hard link when the file names no source identifier,
otherwise a copy that carries the project's pseudonym instead.

A BAM header names its sample (`@RG SM`), often in read-group IDs and libraries too, and carries
command lines (`@PG CL`) and comments (`@CO`) with source paths and names. The extract's BAM gets
a header built from an allow-list of fields, with every source identifier (sample, participant,
file name, the header's own SM values) replaced by the sample's pseudonym. When only the header
changes, `samtools reheader` writes it and copies the compressed blocks unchanged (cheap); when
read-group IDs, read names or a read's other text tags (`CO:Z:` comments, ...) embed an
identifier, the per-read `RG:Z:` tags, names and text tags carry it too, so every record is
rewritten (slow, and said so in dataset.json). Either way the BAM is
re-indexed, since the new header moves every block offset the .bai points to. FASTQ read names
that embed an identifier are rewritten the same way; other FASTQ files are linked.

A rewrite depends only on the source file, the pseudonym and RECIPE, so reprovisioning links the
previous extract's rewritten file instead of rewriting it again.
"""

from __future__ import annotations

import gzip
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from cirn.errors import Conflict

RECIPE = 2  # bump when the rewrite changes, so reprovisioning does not reuse an older output (2: text tags)
# What registration's `names_in_reads` looked at in a BAM: 1 read names, 2 read names and text
# tags. A BAM scanned by an older registration may hold an identifier that scan did not look for:
# it counts as named (rewritten in full), like a file registered before any scan.
READ_SCAN = 2
# SAM tags whose text is structured (sequences, qualities, CIGARs, positions, alignments): a
# numeric identifier would match inside them, and rewriting them would corrupt the read. Every
# other text tag (CO, user-defined X?/Y?/Z? tags, ...) is searched and scrubbed.
STRUCTURED_TAGS = frozenset({"MD", "MC", "SA", "XA", "OA", "OC", "OQ", "BQ", "BC", "QT", "RX", "QX", "OX",
                             "BZ", "CQ", "CS", "E2", "R2", "Q2", "U2", "CT", "FZ", "ML", "MM", "RG"})
HD_FIELDS = ("VN", "SO", "GO", "SS")
SQ_FIELDS = ("SN", "LN", "M5", "AS", "SP", "TP", "AH", "AN")          # not UR: a path or URL
RG_FIELDS = ("ID", "SM", "LB", "PL", "PM", "PU", "PI", "FO", "KS")    # not CN, DT, DS, BC: centre, date, free text
PG_FIELDS = ("ID", "PN", "VN", "PP")                                  # not CL, DS: command lines name files
BAM_SUFFIX = ".bam"
FASTQ_SUFFIX = re.compile(r"([._-]R?[12])?\.f(ast)?q(\.gz)?$", re.IGNORECASE)
MIN_NAME = 3  # shorter "identifiers" (e.g. a sample called "1") would match everywhere


def safe_suffix(suffix: str, kind: str) -> str:
    """The part of a file name kept after the pseudonym: read number and extension, nothing else
    (a registered name like SMP1_KimJS_R1.fastq.gz would otherwise carry `_KimJS` along)."""
    if kind == "bam":
        return BAM_SUFFIX
    m = FASTQ_SUFFIX.search(suffix)
    return m.group(0) if m else (".fastq.gz" if suffix.lower().endswith(".gz") else ".fastq")


def file_stems(name: str) -> set[str]:
    """'SMP1_L001_R1.fastq.gz' -> {'SMP1_L001_R1', 'SMP1'}: what a file name says about its sample."""
    stem = re.sub(r"(\.(bam|sam|cram|f(ast)?q))?(\.gz)?$", "", name, flags=re.IGNORECASE)
    return {stem, re.split(r"[._]", stem, maxsplit=1)[0]}


class Scrubber:
    """Replaces every occurrence of the source identifiers (case-insensitive, longest first)."""

    def __init__(self, names, replacement: str):
        names = sorted({n for n in names if n and len(n) >= MIN_NAME}, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, names)), re.IGNORECASE) if names else None
        self.replacement = replacement

    def found_in(self, text: str) -> bool:
        return bool(self.pattern and self.pattern.search(text))

    def __call__(self, text: str) -> str:
        return self.pattern.sub(self.replacement, text) if self.pattern else text


@dataclass(frozen=True)
class ReadFile:
    """A registered FASTQ/BAM file and what is known about the identifiers in it."""

    path: Path
    kind: str
    names: frozenset[str]
    names_in_reads: bool       # read names or text tags name the source; unknown (registered before
                               # this was checked) counts as True
    indexed: bool              # registration found or built a .bai, so the extract's copy gets one too
    sha256: str

    @classmethod
    def of(cls, dv, entry: dict) -> "ReadFile":
        names = {entry.get("sample"), entry.get("participant"), *file_stems(entry["file"])}
        kind = entry.get("kind", dv.kind)
        named = entry.get("names_in_reads", True) or (kind == "bam" and entry.get("read_scan", 1) < READ_SCAN)
        return cls(dv.path / entry["path"], kind, frozenset(n for n in names if n),
                   named, bool(entry.get("indexes")),
                   dv.manifest["files"].get(entry["path"], {}).get("sha256", ""))


def identifier_in_read(read, search: re.Pattern) -> bool:
    """Whether a BAM read's name or one of its free-text tags (not RG, which follows the header's
    read-group IDs, nor a STRUCTURED_TAGS one) holds a source identifier. A tag that is not UTF-8
    cannot be searched, so it counts as holding one (the extract then rewrites the reads, which
    stops with a message if it cannot read them either)."""
    if read.query_name and search.search(read.query_name):
        return True
    try:
        tags = read.get_tags(with_value_type=True)
    except UnicodeDecodeError:
        return True
    return any(kind == "Z" and tag not in STRUCTURED_TAGS and search.search(value) for tag, value, kind in tags)


def clean_header(header: dict, scrub: Scrubber, pseudonym: str) -> tuple[dict, dict[str, str]]:
    """An allow-listed, scrubbed header with SM set to the pseudonym, and old -> new read-group IDs."""
    new: dict = {}
    if header.get("HD"):
        new["HD"] = {k: header["HD"][k] for k in HD_FIELDS if k in header["HD"]}
    if header.get("SQ"):
        new["SQ"] = [{k: sq[k] for k in SQ_FIELDS if k in sq} for sq in header["SQ"]]
    rg_map: dict[str, str] = {}
    groups, used = [], set()
    for g in header.get("RG", []):
        clean = {k: scrub(str(g[k])) for k in RG_FIELDS if k in g}
        clean["SM"] = pseudonym
        rg_id, n = clean["ID"], 2
        while clean["ID"] in used:  # two IDs that differed only by an identifier would now collide
            clean["ID"] = f"{rg_id}.{n}"
            n += 1
        used.add(clean["ID"])
        if clean["ID"] != g["ID"]:
            rg_map[g["ID"]] = clean["ID"]
        groups.append(clean)
    if groups:
        new["RG"] = groups
    programs = [{k: scrub(str(p[k])) for k in PG_FIELDS if k in p} for p in header.get("PG", [])]
    if programs:
        new["PG"] = programs
    return new, rg_map   # CO (free-text comments) is dropped


def pseudonymise_read_file(src: ReadFile, dest: Path, pseudonym: str, previous: dict | None,
                           previous_dir: Path) -> dict | None:
    """Write `dest` if the file must change (returning how), else None: the caller links the source."""
    if src.kind == "bam":
        return _bam(src, dest, pseudonym, previous, previous_dir)
    return _fastq(src, dest, pseudonym, previous, previous_dir)


def _reuse(record: dict, previous: dict | None, previous_dir: Path, dest: Path, index: bool) -> bool:
    """Link the previous extract's output when it was made from the same source by the same recipe."""
    old = previous_dir / dest.name
    if previous != record or not old.is_file() or (index and not Path(f"{old}.bai").is_file()):
        return False
    try:
        os.link(old, dest)
        if index:
            os.link(f"{old}.bai", f"{dest}.bai")
    except OSError:
        for p in (dest, Path(f"{dest}.bai")):
            p.unlink(missing_ok=True)
        return False
    return True


def _bam(src: ReadFile, dest: Path, pseudonym: str, previous: dict | None, previous_dir: Path) -> dict | None:
    import pysam
    pysam.set_verbosity(0)
    with pysam.AlignmentFile(str(src.path), "rb", check_sq=False) as bam:
        header = bam.header.to_dict()
    sms = {g.get("SM") for g in header.get("RG", []) if g.get("SM")}
    scrub = Scrubber(src.names | sms, pseudonym)
    new, rg_map = clean_header(header, scrub, pseudonym)
    if new == header and not (src.names_in_reads and scrub.pattern):
        return None
    text = str(pysam.AlignmentHeader.from_dict(new))
    if scrub.found_in(text):
        raise Conflict(f"the cleaned header of {src.path.name} still names its source sample; "
                       "register the file with a --samples mapping that names it")
    full = bool(rg_map) or (src.names_in_reads and scrub.pattern is not None)
    record = {"source_sha256": src.sha256, "recipe": RECIPE, "how": "records rewritten" if full else "header rewritten"}
    if _reuse(record, previous, previous_dir, dest, src.indexed):
        return record
    if full:
        _rewrite_records(src.path, dest, new, rg_map, scrub if src.names_in_reads else None)
    else:
        header_file = dest.with_name(f".header-{uuid.uuid4().hex[:8]}.sam")
        header_file.write_text(text, encoding="utf-8")
        try:
            # -P: no @PG line for reheader itself (its command line would name the source path).
            pysam.samtools.reheader("-P", str(header_file), str(src.path), save_stdout=str(dest))
        finally:
            header_file.unlink(missing_ok=True)
    if src.indexed:
        # The new header has another length, so every offset in the source .bai is wrong: re-index.
        pysam.index(str(dest), f"{dest}.bai")
    return record


def _rewrite_records(source: Path, dest: Path, header: dict, rg_map: dict[str, str], scrub: Scrubber | None) -> None:
    import pysam
    with pysam.AlignmentFile(str(source), "rb", check_sq=False) as bam, \
            pysam.AlignmentFile(str(dest), "wb", header=header, threads=2) as out:
        for read in bam.fetch(until_eof=True):
            if rg_map and read.has_tag("RG"):
                rg = read.get_tag("RG")
                if rg in rg_map:
                    read.set_tag("RG", rg_map[rg], value_type="Z")
            if scrub is not None:
                if read.query_name:
                    read.query_name = scrub(read.query_name)
                try:
                    tags = read.get_tags(with_value_type=True)
                except UnicodeDecodeError:
                    raise Conflict(f"read {read.query_name} of {source.name} has a text tag that is not UTF-8, "
                                   "so it cannot be checked for identifiers; re-encode the BAM's tags as UTF-8 "
                                   "and register it again") from None
                for tag, value, kind in tags:
                    if kind == "Z" and tag not in STRUCTURED_TAGS:
                        clean = scrub(value)
                        if clean != value:
                            read.set_tag(tag, clean, value_type="Z")
            out.write(read)


def _fastq(src: ReadFile, dest: Path, pseudonym: str, previous: dict | None, previous_dir: Path) -> dict | None:
    scrub = Scrubber(src.names, pseudonym)
    if not (src.names_in_reads and scrub.pattern):
        return None
    record = {"source_sha256": src.sha256, "recipe": RECIPE, "how": "read names rewritten"}
    if _reuse(record, previous, previous_dir, dest, False):
        return record
    gz = src.path.name.lower().endswith(".gz")
    opener = (lambda p, mode: gzip.open(p, mode, compresslevel=4)) if gz else open
    with opener(src.path, "rb") as fin, opener(dest, "wb") as fout:
        for i, line in enumerate(fin):
            if i % 4 == 0 or i % 4 == 2:  # the @name line, and the optional repeat after '+'
                line = scrub(line.decode("utf-8", "replace")).encode("utf-8")
            fout.write(line)
    return record
