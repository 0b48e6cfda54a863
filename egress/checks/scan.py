"""The scan: walk the paths, sniff each file, run the checks its kind needs, open archives.

`scan_paths(paths, ...)` (files and folders, what `cirn egress scan` runs) and `scan_bytes(data,
name, context)` (content already in memory, what the egress-review service runs) are the library
entry points; both are exported by `cirn.egress.checks`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from cirn.errors import CirnError
from cirn.policies.egress_rules import EgressPolicy

from . import table_readers as tr
from .archives import ArchiveReader, Budget
from .context import ScanContext
from .decoding import decode_text, undecodable_byte_findings
from .findings import FileReport, Finding, ScanReport, Verdict
from .identifiers import IdentifierSet
from .locations import DelimitedLocator, LineIndex
from .metadata_text import metadata_findings
from .notebooks import scan_notebook
from .office_parts import office_part_findings, xml_text
from .parquet_limits import parquet_oversize
from .pdf_text import scan_pdf
from .sniff import detect_delimiter, sniff
from .table_metadata import parquet_metadata_texts
from .text import scan_text

MAX_FINDINGS_PER_CHECK = 50
GENOMIC_NAMES = {"vcf": "VCF", "bcf": "BCF", "bam": "BAM", "cram": "CRAM", "sam": "SAM", "fastq": "FASTQ",
                 "fasta": "FASTA", "plink-bed": "PLINK .bed"}


class ScanInputError(CirnError):
    """A path given to the scan does not exist or cannot be read."""


def scan_paths(paths: Iterable[str | os.PathLike], policy: EgressPolicy | None = None,
               identifiers: IdentifierSet | Iterable[str] | None = None,
               on_file: Callable[[str], None] | None = None, context: ScanContext | None = None,
               sandbox=None) -> ScanReport:
    """Scan files and folders (walked recursively). Raises ScanInputError for a missing or
    unreadable path: an input the scan cannot read must never come back as `pass`.
    `context` reuses a ScanContext (and its loaded analyzer) in place of `policy` and `identifiers`.
    `sandbox` (a cirn.egress.checks.sandbox.ScanSandbox) checks each file's content in its worker
    processes; this process then only walks, reads and sizes the files."""
    if context is not None and (policy is not None or identifiers is not None):
        raise TypeError("give the policy and identifiers in the ScanContext, not beside it")
    ctx = context or ScanContext(policy, identifiers)
    files = list(_walk(paths))
    report = ScanReport()
    for path in files:
        if on_file:
            on_file(path)
        report.files.extend(scan_file(path, ctx, sandbox))
    return report


def _walk(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    for raw in paths:
        path = os.fspath(raw)
        if not os.path.lexists(path):
            raise ScanInputError(f"{path} does not exist; give files or folders to scan")
        if os.path.isdir(path) and not os.path.islink(path):
            for root, dirs, names in os.walk(path, onerror=_walk_error):
                dirs.sort()
                for name in sorted(names):
                    yield os.path.join(root, name)
        else:
            yield path


def _walk_error(exc: OSError) -> None:
    raise ScanInputError(f"{exc.filename} cannot be read ({exc.strerror}); fix its permissions and scan again")


def scan_file(path: str, ctx: ScanContext, sandbox=None) -> list[FileReport]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ScanInputError(f"{path} cannot be read: it is a dangling link or vanished during the scan") from None
    except OSError as exc:
        raise ScanInputError(f"{path} cannot be read ({exc.strerror}); fix its permissions and scan again") from None
    if not stat.S_ISREG(st.st_mode):
        return [FileReport(path, "", "binary", [Finding("blocked-type.special-file", Verdict.BLOCK, "file",
                                                        "not a regular file (device, pipe or socket); it cannot be released")])]
    cap = ctx.policy.max_file_bytes
    try:
        if st.st_size > cap:
            return [_oversized(path, st.st_size, cap)]
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScanInputError(f"{path} cannot be read ({exc.strerror or exc}); fix its permissions and scan again") from None
    if sandbox is not None:
        from .sandbox import report_from_dict
        return [report_from_dict(r) for r in sandbox.scan(data, path, ctx.identifiers)]
    return _scan_content(data, path, ctx, depth=0, budget=Budget(ctx.policy.archive.max_expanded_bytes))


def _oversized(path: str, size: int, cap: int) -> FileReport:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        head = fh.read(65536)
        digest.update(head)
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return FileReport(path, digest.hexdigest(), sniff(head, path).kind, [
        Finding("size.cap", Verdict.BLOCK, "file", f"{size} bytes is over the size cap of {cap} bytes; it was not read further")])


def scan_bytes(data: bytes, name: str, context: ScanContext | EgressPolicy | None = None,
               identifiers: IdentifierSet | Iterable[str] | None = None) -> list[FileReport]:
    """The report for one file's content, named `name` (its type is sniffed from the bytes; the
    name only breaks ties), followed by one report per member if it is an archive
    (`name!/inner/path`). `context` is a ScanContext to reuse across calls, or a policy (with
    `identifiers`) for a one-off scan."""
    if not isinstance(context, ScanContext):
        context = ScanContext(context, identifiers)
    elif identifiers is not None:
        raise TypeError("give identifiers in the ScanContext, not beside it")
    return _scan_content(data, name, context, 0, Budget(context.policy.archive.max_expanded_bytes))


def _scan_content(data: bytes, label: str, ctx: ScanContext, depth: int, budget: Budget) -> list[FileReport]:
    sniffed = sniff(data, label)
    report = FileReport(label, hashlib.sha256(data).hexdigest(), sniffed.kind)
    extra: list[FileReport] = []
    if len(data) > ctx.policy.max_file_bytes:
        report.findings.append(Finding("size.cap", Verdict.BLOCK, "file",
                                       f"{len(data)} bytes is over the size cap of {ctx.policy.max_file_bytes} bytes"))
    elif sniffed.kind == "genomic":
        report.findings.append(Finding(f"genomic-file.{sniffed.fmt}", Verdict.BLOCK, "file",
                                       f"a raw {GENOMIC_NAMES.get(sniffed.fmt, sniffed.fmt)} file is never released, whatever its name"))
    elif sniffed.kind == "archive":
        extra = _scan_archive(data, sniffed.fmt, label, ctx, depth, budget, report)
    else:
        handler = HANDLERS.get(sniffed.fmt) or HANDLERS_BY_KIND.get(sniffed.kind, _scan_binary)
        report.findings.extend(handler(data, ctx, sniffed.fmt))
    report.findings = _cap(report.findings)
    return [report] + extra


def _scan_archive(data: bytes, fmt: str, label: str, ctx: ScanContext, depth: int, budget: Budget,
                  report: FileReport) -> list[FileReport]:
    limits = ctx.policy.archive
    if depth >= limits.max_depth:
        report.findings.append(Finding("archive.depth", Verdict.BLOCK, "file",
                                       f"archives nested deeper than {limits.max_depth} levels are not opened"))
        return []
    reader = ArchiveReader(data, fmt, limits, budget, ctx.policy.max_file_bytes, name=label)
    members: list[FileReport] = []
    for member in reader.members():
        members.extend(_scan_content(member.data, f"{label}!/{member.name}", ctx, depth + 1, budget))
    report.findings.extend(reader.findings)
    report.findings.extend(metadata_findings(reader.texts, ctx))
    return members


def _cap(findings: list[Finding]) -> list[Finding]:
    """At most MAX_FINDINGS_PER_CHECK of each check, then one line saying how many more."""
    seen: dict[str, int] = {}
    out: list[Finding] = []
    for f in findings:
        seen[f.check] = seen.get(f.check, 0) + 1
        if seen[f.check] <= MAX_FINDINGS_PER_CHECK:
            out.append(f)
    for check, count in seen.items():
        if count > MAX_FINDINGS_PER_CHECK:
            worst = max(f.severity for f in findings if f.check == check)
            out.append(Finding(check, worst, "file", f"{count - MAX_FINDINGS_PER_CHECK} more findings of this check not listed"))
    return out


# -- per type --------------------------------------------------------------------------------

def decode_with_utf8(data: bytes) -> tuple[str, bytes | None]:
    """Text as a person's editor would show it (UTF-8, else Korean CP949, else Latin-1), and its
    UTF-8 bytes when the file was UTF-8, so the checks need not encode it again (`decoding.py`)."""
    return decode_text(data)


def _scan_plain_text(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    text, utf8 = decode_with_utf8(data)
    lines = LineIndex(text)
    findings = scan_text(text, ctx, lines.text_location, utf8)
    if utf8 is None:
        findings += undecodable_byte_findings(data, ctx, findings)
    if fmt == "html" and "<table" in text.lower():
        for ti, df in enumerate(tr.read_html_tables(text), start=1):
            findings += ctx.tables.check(df, f"table {ti}")
    return findings


def _scan_delimited(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    text, utf8 = decode_with_utf8(data)
    delimiter = "\t" if fmt == "tsv" else (detect_delimiter(data[:8192]) or b",").decode()
    try:
        df = tr.read_delimited(data if not data.startswith(b"\xef\xbb\xbf") else data[3:], delimiter)
    except tr.TableReadError as exc:
        return scan_text(text, ctx, LineIndex(text).text_location, utf8) + [
            Finding("blocked-type.unreadable-table", Verdict.REVIEW, "file", f"{exc}; only its text was checked")]
    locator = DelimitedLocator(text, delimiter, df.columns)
    found = scan_text(text, ctx, locator, utf8)
    if utf8 is None:
        found += undecodable_byte_findings(data, ctx, found)
    return found + ctx.tables.check(df)


def _scan_parquet(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    too_large = parquet_oversize(data, ctx.policy.table_limits)
    if too_large:  # measured before reading: a few hundred bytes can decode to gigabytes
        return [Finding("size.table-expanded", Verdict.BLOCK, "file", f"{too_large}; it was not read")]
    try:
        df = tr.read_parquet(data)
    except tr.TableReadError as exc:
        return [Finding("blocked-type.unreadable-table", Verdict.BLOCK, "file", f"{exc}; it cannot be checked")]
    return _frame_findings(df, ctx, "") + metadata_findings(parquet_metadata_texts(data), ctx)


def _frame_findings(df, ctx: ScanContext, where: str) -> list[Finding]:
    """Text checks over the table written as CSV (so rows map back), then the table checks."""
    text = tr.frame_to_text(df)
    found = scan_text(text, ctx, DelimitedLocator(text, ",", df.columns))
    if where:
        found = [f.at(where) for f in found]
    return found + ctx.tables.check(df, where)


def _scan_excel(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    try:
        sheets = tr.read_excel(data)
    except tr.TableReadError as exc:
        return [Finding("blocked-type.unreadable-table", Verdict.BLOCK, "file", f"{exc}; it cannot be checked")]
    hidden = set(tr.workbook_hidden_parts(data))
    findings: list[Finding] = []
    for name, df in sheets.items():
        found = _frame_findings(df, ctx, f"sheet '{name}'")
        findings += found
        if name in hidden:
            findings += [Finding("hidden-content.hidden-sheet", Verdict.REVIEW, f.location,
                                 f"{f.check} found in a hidden sheet") for f in found]
    cells = {v for df in sheets.values() for v in [*df.columns, *(x for c in df.columns for x in df[c].drop_nulls().to_list())]}
    return findings + office_part_findings(data, ctx, cell_values=cells)


def _scan_notebook(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    return scan_notebook(data, ctx)


def _scan_image(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    if fmt == "svg":
        return [Finding("image.vector-coordinates", Verdict.BLOCK, "file",
                        "a vector figure holds the exact coordinates of every point; export it as PNG")]
    return [Finding("image.raster", Verdict.REVIEW, "file", "a figure: a person must look at every image")]


def _scan_docx(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    import io
    import zipfile
    findings = [Finding("blocked-type.office-document", Verdict.REVIEW, "file",
                        "only the text of an office document is checked; embedded figures and objects need a person")]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = [n for n in zf.namelist() if n.endswith(".xml") and n.startswith(("word/", "ppt/slides/", "ppt/notes"))]
            for part in parts:
                text = xml_text(zf.read(part).decode("utf-8", "replace"))[0]  # runs joined as a reader sees them
                lines = LineIndex(text)
                findings += scan_text(text, ctx, lambda off, p=part: f"{p}, {lines.text_location(off)}")
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        findings.append(Finding("blocked-type.unreadable-document", Verdict.BLOCK, "file", f"the document cannot be read ({exc})"))
        return findings
    return findings + office_part_findings(data, ctx, read_text=set(parts))


def _scan_document(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    if fmt == "pdf":
        return scan_pdf(data, ctx)
    return [Finding("blocked-type.legacy-office", Verdict.BLOCK, "file",
                    "legacy Office files (.xls/.doc) cannot be checked; save as .xlsx/.docx or CSV")]


def _scan_binary(data: bytes, ctx: ScanContext, fmt: str) -> list[Finding]:
    if fmt in ("sqlite", "duckdb"):
        return [Finding("blocked-type.database", Verdict.BLOCK, "file",
                        f"a {fmt} database holds row-level data and is never released; export aggregate tables instead")]
    return [Finding("blocked-type.binary", Verdict.BLOCK, "file",
                    "an unrecognised binary file cannot be checked, so it cannot be released")]


HANDLERS: dict[str, Callable[[bytes, ScanContext, str], list[Finding]]] = {
    "csv": _scan_delimited, "tsv": _scan_delimited, "parquet": _scan_parquet, "xlsx": _scan_excel,
    "ipynb": _scan_notebook, "docx": _scan_docx, "pptx": _scan_docx,
}
HANDLERS_BY_KIND: dict[str, Callable[[bytes, ScanContext, str], list[Finding]]] = {
    "text": _scan_plain_text, "table": _scan_plain_text, "image": _scan_image, "document": _scan_document,
    "binary": _scan_binary, "notebook": _scan_notebook,
}
