"""Genomic content written as text: per-person genotype lines, raw sequences and FASTA records."""

from __future__ import annotations

import re
from collections.abc import Iterator

RSID = re.compile(r"(?<![\w])rs\d{3,}(?!\w)")
GENOTYPE = re.compile(r"(?<![\w/|.])(?:[0-2.][/|][0-2.]|[ACGT][/|][ACGT]|[ACGT]{2}(?=[\s,;\t]|$))(?![\w/|])")
# A person-level token: letters then digits (S0001, NA12878, P-0042), not an rsID or a chromosome.
PERSON_TOKEN = re.compile(r"(?<![\w])(?!rs\d|chr)[A-Za-z]{1,8}[-_]?\d{2,}(?![\w.])")
FASTA_RECORD = re.compile(r"^>[^\n]*\n[ACGTNacgtn]{10,}\s*$", re.MULTILINE)


def sequence_regex(min_length: int) -> re.Pattern:
    return re.compile(r"[ACGTNacgtn]{%d,}" % min_length)


def genotype_lines(text: str) -> Iterator[tuple[int, str]]:
    """Offsets of lines that hold an ID, an rsID and a genotype: one person's genotype."""
    pos = 0
    for match in RSID.finditer(text):
        if match.start() < pos:
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end < 0 else line_end
        pos = line_end
        line = text[line_start:line_end]
        if GENOTYPE.search(line) and PERSON_TOKEN.search(line):
            yield line_start, match.group(0)


def sequences(text: str, min_length: int) -> Iterator[tuple[int, int]]:
    """Runs of bases long enough to be a read or a piece of a genome (at least three bases used,
    so that padding such as 'AAAA…' in base64 does not count)."""
    for match in sequence_regex(min_length).finditer(text):
        run = match.group(0).upper()
        if sum(base in run for base in "ACGT") >= 3:
            yield match.start(), match.end()


def fasta_records(text: str) -> Iterator[int]:
    for match in FASTA_RECORD.finditer(text):
        yield match.start()
