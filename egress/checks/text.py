"""Checks that read any text: identifiers, personal information, genomic content, regression
degrees of freedom. `locate(offset)` turns an offset into the location a reviewer sees."""

from __future__ import annotations

import re
from collections.abc import Callable

from .context import ScanContext
from .findings import Finding, Verdict
from .genomic_text import fasta_records, genotype_lines, sequences
from .masked import MaskedText
from .pii import ENTITY_CHECKS, ENTITY_LABELS, redact

Locate = Callable[[int], str]

RESIDUAL_DOF = [
    re.compile(r"Df Residuals:\s+(\d+)"),                                # statsmodels summary
    re.compile(r"(?:Residual standard error|Residual deviance):[^\n]*?on (\d+) degrees of freedom"),  # R
    re.compile(r"Residual\s+(\d+)\s+[\d.]+\s+[\d.]+", re.I),            # Stata ANOVA table
]


def scan_text(text: str, ctx: ScanContext, locate: Locate, raw: bytes | None = None) -> list[Finding]:
    """`raw`, when given, is `text` as UTF-8 bytes (the file it was decoded from)."""
    findings: list[Finding] = []
    masked = MaskedText(text, raw)
    for start, _end, ident in ctx.identifiers.find(text):
        findings.append(Finding("identifier.exact", Verdict.BLOCK, locate(start),
                                f"identifier {redact(ident)} from the identifier list"))
    for hit in ctx.pii.scan(text, masked):
        severity = ctx.pii_severity.get(hit.entity, Verdict.BLOCK)
        if severity == Verdict.PASS:
            continue
        findings.append(Finding(ENTITY_CHECKS.get(hit.entity, "pii." + hit.entity.lower()), severity,
                                locate(hit.start), f"{ENTITY_LABELS.get(hit.entity, hit.entity)} {redact(hit.value)}"))
    findings += genomic_findings(text, masked, ctx, locate)
    if b"egrees of freedom" in masked.raw or b"Residual" in masked.raw:
        findings += residual_dof_findings(text, ctx, locate)
    return findings


def genomic_findings(text: str, masked: MaskedText, ctx: ScanContext, locate: Locate) -> list[Finding]:
    findings = []
    for offset, rsid in genotype_lines(text, masked):
        findings.append(Finding("genotype.per-person-line", Verdict.BLOCK, locate(offset),
                                f"a person's genotype at {rsid} (ID, rsID and genotype on one line)"))
    for offset in fasta_records(text):
        findings.append(Finding("genomic-file.fasta-record", Verdict.BLOCK, locate(offset), "a FASTA record (header and sequence)"))
    for start, end in sequences(masked, ctx.policy.min_sequence_length):
        findings.append(Finding("genomic-file.sequence", Verdict.BLOCK, locate(start),
                                f"a raw sequence of {end - start} bases"))
    return findings


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
