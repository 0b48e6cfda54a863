"""Genomic content written as text: per-person genotype lines, raw sequences and FASTA records."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .masked import MaskedText

RSID_BYTES = re.compile(rb"rs[0-9]{3,}")  # on UTF-8 bytes: a literal start, so the search skips quickly
GENOTYPE = re.compile(r"(?<![\w/|.])(?:[0-2.][/|][0-2.]|[ACGT][/|][ACGT]|[ACGT]{2}(?=[\s,;\t]|$))(?![\w/|])")
# A person-level token: letters then digits (S0001, NA12878, P-0042), not an rsID or a chromosome.
PERSON_TOKEN = re.compile(r"(?<![\w])(?!rs\d|chr)[A-Za-z]{1,8}[-_]?\d{2,}(?![\w.])")
FASTA_BODY = re.compile(r">[^\n]*\n[ACGTNacgtn]{10,}\s*(?:\n|$)")
BASE_RUN = re.compile(rb"B+")


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def genotype_lines(text: str, masked: MaskedText | None = None) -> Iterator[tuple[int, str]]:
    """Offsets of lines that hold an ID, an rsID and a genotype: one person's genotype."""
    masked = masked or MaskedText(text)
    matches = list(RSID_BYTES.finditer(masked.raw))
    pos = 0
    for m, start in zip(matches, masked.char_offsets(m.start() for m in matches)):
        end = start + (m.end() - m.start())
        if start < pos or (start > 0 and _is_word(text[start - 1])) or (end < len(text) and _is_word(text[end])):
            continue
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        pos = line_end
        line = text[line_start:line_end]
        if GENOTYPE.search(line) and PERSON_TOKEN.search(line):
            yield line_start, text[start:end]


def sequences(masked: MaskedText, min_length: int) -> Iterator[tuple[int, int]]:
    """Character spans of base runs long enough to be a read or a piece of a genome (at least
    three different bases, so that padding such as 'AAAA…' in base64 does not count)."""
    needle = b"B" * min_length
    find, folded = masked.masked.find, masked.masked
    merged: list[tuple[int, int]] = []
    start = find(needle)
    while start >= 0:
        end = BASE_RUN.match(folded, start).end()
        run = masked.raw[start:end].upper()
        if sum(base in run for base in (b"A", b"C", b"G", b"T")) >= 3:
            merged.append((start, end))
        # resume after the whole run: resuming after the needle re-read the run once per needle
        # length, quadratic in its length (1 MB of 'a' took a minute)
        start = find(needle, end)
    offsets = masked.char_offsets([s for s, _ in merged])
    for (start, end), char_start in zip(merged, offsets):
        yield char_start, char_start + (end - start)  # bases are ASCII: one byte, one character


def fasta_records(text: str) -> Iterator[int]:
    i = 0 if text.startswith(">") else text.find("\n>")
    while i >= 0:
        start = i if text.startswith(">", i) else i + 1
        if FASTA_BODY.match(text, start):
            yield start
        i = text.find("\n>", start + 1)
