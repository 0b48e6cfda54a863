"""Checks that read any text: identifiers, personal information, genomic content, regression
degrees of freedom. `locate(offset)` turns an offset into the location a reviewer sees."""

from __future__ import annotations

import re
from collections.abc import Callable

from .context import ScanContext
from .findings import Finding, Verdict
from .encoded import class_runs, encoded_findings
from .genomic_text import fasta_records, genotype_lines, pseudonym_shapes, sequences
from .masked import NOT_CONTINUATION, MaskedText
from .normalise import normalise
from .pii import ENTITY_CHECKS, ENTITY_LABELS, redact

Locate = Callable[[int], str]

RESIDUAL_DOF = [
    re.compile(r"Df Residuals:\s+(\d+)"),                                # statsmodels summary
    re.compile(r"(?:Residual standard error|Residual deviance):[^\n]*?on (\d+) degrees of freedom"),  # R
    re.compile(r"Residual\s+(\d+)\s+[\d.]+\s+[\d.]+", re.I),            # Stata ANOVA table
]


# A long text is checked in line-aligned segments of about this many characters, so the folded
# copy, the prefilters and their offsets stay in the processor's cache: on a 100 MB file, whole-text
# passes spend more time waiting for memory than computing.
SEGMENT_CHARS = 1 << 21


def scan_text(text: str, ctx: ScanContext, locate: Locate, raw: bytes | None = None) -> list[Finding]:
    """`raw`, when given, is `text` as UTF-8 bytes (the file it was decoded from).

    Every check reads the text normalised (NFKC, no zero-width or other format characters): what
    a reader sees, not the code points that draw it (`normalise.py`); identifiers also ignore the
    case of ASCII letters. Offsets are mapped back for the locations."""
    identifiers: list[Finding] = []
    pii: list[Finding] = []
    genotypes: list[Finding] = []
    bases: list[Finding] = []
    encoded: list[Finding] = []
    # Every check of the loop reads within one line, so segments cut at line ends change nothing.
    for start, piece, piece_raw in _segments(text, raw):
        at = locate if not start else (lambda offset, start=start: locate(start + offset))
        masked = MaskedText(piece, piece_raw)
        clean = normalise(piece, raw=masked.raw)
        if clean.text is piece:
            at_clean = at
        else:  # offsets in the normalised text are mapped back to the text a reviewer sees
            masked = MaskedText(clean.text)
            at_clean = (lambda offset, at=at, clean=clean: at(clean.source_offset(offset)))
        for begin, _end, ident in ctx.identifiers.find_masked(masked):
            identifiers.append(Finding("identifier.exact", Verdict.BLOCK, at_clean(begin),
                                       f"identifier {redact(ident)} from the identifier list"))
        runs = class_runs(masked.raw)  # base64-alphabet runs: pseudonyms and encoded content lie in them
        listed = {f.location for f in identifiers}
        for begin, value in pseudonym_shapes(clean.text, masked, runs):
            if at_clean(begin) not in listed:
                identifiers.append(Finding("identifier.pseudonym-shape", Verdict.REVIEW, at_clean(begin),
                                           f"{redact(value)} has the shape of a CIRN pseudonym (P-, S- or F- and 16 base32 characters)"))
        for hit in ctx.pii.scan(clean.text, masked):
            severity = ctx.pii_severity.get(hit.entity, Verdict.BLOCK)
            if severity == Verdict.PASS:
                continue
            pii.append(Finding(ENTITY_CHECKS.get(hit.entity, "pii." + hit.entity.lower()), severity,
                               at_clean(hit.start), f"{ENTITY_LABELS.get(hit.entity, hit.entity)} {redact(hit.value)}"))
        for offset, rsid in genotype_lines(clean.text, masked):
            genotypes.append(Finding("genotype.per-person-line", Verdict.BLOCK, at_clean(offset),
                                     f"a person's genotype at {rsid} (ID, rsID and genotype on one line)"))
        for begin, end in sequences(masked, ctx.policy.min_sequence_length):
            bases.append(Finding("genomic-file.sequence", Verdict.BLOCK, at_clean(begin), f"a raw sequence of {end - begin} bases"))
        encoded += encoded_findings(masked, ctx, at_clean, runs)
    # FASTA records span two lines and regression output several: these read the whole text.
    fasta = [Finding("genomic-file.fasta-record", Verdict.BLOCK, locate(offset), "a FASTA record (header and sequence)")
             for offset in fasta_records(text)]
    findings = identifiers + pii + genotypes + fasta + bases + encoded
    if "egrees of freedom" in text or "Residual" in text:
        findings += residual_dof_findings(text, ctx, locate)
    return findings


def _segments(text: str, raw: bytes | None):
    """(start, piece, its UTF-8 bytes or None) for line-aligned pieces of `text`. With the file's
    bytes at hand, pieces are cut in the bytes and their lengths in characters counted there, so
    no piece is encoded again."""
    if len(text) <= 2 * SEGMENT_CHARS:
        yield 0, text, raw
        return
    start = 0
    if raw is None:
        while start < len(text):
            end = text.find("\n", start + SEGMENT_CHARS)
            end = len(text) if end < 0 else end + 1
            yield start, text[start:end], None
            start = end
        return
    begin = 0  # in bytes
    while begin < len(raw):
        finish = raw.find(b"\n", begin + SEGMENT_CHARS)
        finish = len(raw) if finish < 0 else finish + 1
        piece_raw = raw[begin:finish]
        end = start + len(piece_raw) - len(piece_raw.translate(None, NOT_CONTINUATION))
        yield start, text[start:end], piece_raw
        start, begin = end, finish


def residual_dof_findings(text: str, ctx: ScanContext, locate: Locate) -> list[Finding]:
    if "egree" not in text and "Residual" not in text:
        return []
    findings = []
    limit = ctx.policy.min_residual_dof
    for pattern in RESIDUAL_DOF:
        for match in pattern.finditer(text):
            dof = int(match.group(1))
            if dof < limit:
                findings.append(Finding("small-count.residual-dof", Verdict.BLOCK, locate(match.start()),
                                        f"a model with {dof} residual degrees of freedom (needs {limit})"))
    return findings
