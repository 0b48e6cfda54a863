"""Genomic content written as text: per-person genotype lines, raw sequences and FASTA records."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .masked import MaskedText

RSID_BYTES = re.compile(rb"rs[0-9]{3,}")  # on UTF-8 bytes: a literal start, so the search skips quickly
GENOTYPE = re.compile(r"(?<![\w/|.])(?:[0-2.][/|][0-2.]|[ACGTacgt][/|][ACGTacgt]|[ACGT]{2}(?=[\s,;\t]|$))(?![\w/|])")
# A CIRN pseudonym (datasets/pseudonyms.py): P-, S- or F- and 80 bits in base32 (A-Z, 2-7), in
# any case. Any digit is accepted: the module's own example (S-4KQ2M7Z3XW9D5HTA) has a 9, and a
# token one digit off the alphabet is no less a person's key.
PSEUDONYM = r"[PSFpsf]-[A-Za-z0-9]{16}"
PSEUDONYM_TAIL = re.compile(rb"-[A-Za-z0-9]{16}(?![A-Za-z0-9_])")  # a literal start: the search skips quickly
# A person-level token: letters then digits (S0001, NA12878, P-0042), or a pseudonym; not an rsID
# or a chromosome.
PERSON_TOKEN = re.compile(rf"(?<![\w])(?:{PSEUDONYM}(?![\w])|(?!rs\d|chr)[A-Za-z]{{1,8}}[-_]?\d{{2,}}(?![\w.]))")
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


def pseudonym_shapes(text: str, masked: MaskedText | None = None,
                     runs: list[tuple[int, int, bytes]] | None = None) -> Iterator[tuple[int, str]]:
    """(character offset, token) of every token shaped like a CIRN pseudonym, in any case (one in
    thirty base32 pseudonyms has no digit, so a lowercase run of letters counts too). `runs`
    (byte spans of base64-alphabet runs, `encoded.class_runs`) limit the search to them: every
    pseudonym lies in one."""
    masked = masked or MaskedText(text)
    raw = masked.raw
    hits: list[tuple[int, str]] = []
    spans = [(0, len(raw))] if runs is None else [(start, end) for start, end, _ in runs]
    for m in (m for start, end in spans for m in PSEUDONYM_TAIL.finditer(raw, start, end)):
        i = m.start() - 1
        if i < 0 or raw[i] not in b"PSFpsf" or (i > 0 and (raw[i - 1:i].isalnum() or raw[i - 1] in b"_-")):
            continue
        hits.append((i, raw[i:m.end()].decode("ascii")))
    for (_, token), offset in zip(hits, masked.char_offsets(i for i, _ in hits)):
        yield offset, token


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
