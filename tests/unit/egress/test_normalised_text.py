"""Identifiers and genotype lines are matched in text as a reader sees it: NFKC, no format
characters, case folded, and not split or swallowed by an undecodable byte; the person token
knows the project's own pseudonym shape."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cirn.datasets.pseudonyms import pseudonym
from egress_testing import locations, only

LISTED = "S-4KQ2M7Z3XW9D5HTA"  # in the conftest's identifier list


def test_lowercased_identifier_is_found(scan):
    report = scan("notes.txt", f"sample {LISTED.lower()} was excluded\n")
    assert locations(report, "identifier.exact") == ["line 1, col 8"]


def test_identifier_split_by_zero_width_characters_is_found(scan):
    for mark in ("\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\U000e0041"):
        split = LISTED[:5] + mark + LISTED[5:11] + mark + LISTED[11:]
        report = scan("notes.txt", f"이 환자는 {split} 입니다\n")
        assert locations(report, "identifier.exact") == ["line 1, col 7"], repr(mark)


def test_full_width_identifier_is_found_and_located_where_it_starts(scan):
    wide = "".join(chr(ord(c) + 0xFEE0) for c in LISTED)  # ＳＭＰ… (what a Korean IME types)
    report = scan("notes.txt", f"대상자 {wide} 제외\n")
    assert locations(report, "identifier.exact") == ["line 1, col 5"]


def test_identifier_in_a_utf8_file_with_a_stray_cp949_lead_byte(scan):
    data = f"환자 목록\n대상 {LISTED[:8]}".encode() + b"\xb0" + f"{LISTED[8:]} 제외\n".encode()
    report = scan("notes.txt", data)
    assert only(report, "identifier.exact")


def test_identifier_after_a_stray_cp949_lead_byte_in_a_cp949_file(scan):
    # \xb0 followed by 'S' is a valid CP949 character: the file decodes, and the identifier's
    # first letter is gone from the decoded text
    data = "대상자 목록\n".encode("cp949") + b"subject \xb0" + LISTED.encode() + b" excluded\n"
    report = scan("notes.txt", data)
    assert only(report, "identifier.exact")
    assert report.verdict.label == "block"


def test_genotype_line_with_a_project_pseudonym_is_per_person():
    key = hashlib.sha256(b"test project key").digest()
    person = pseudonym(key, "sample", "SMP000001")
    assert person[:2] == "S-" and len(person) == 18
    from cirn.egress.checks import ScanContext, scan_bytes
    ctx = ScanContext()  # no identifier list: only the shape can tell
    for line in (f"{person} rs429358 C/T", f"{person.lower()}\trs7412\tc/t", f"{pseudonym(key, 'participant', 'x')},rs1801133,0|1"):
        report = scan_bytes(f"{line}\n".encode(), "calls.txt", ctx)[0]
        assert only(report, "genotype.per-person-line"), line
        assert only(report, "identifier.pseudonym-shape"), line


def test_pseudonym_shape_without_an_identifier_list_is_held():
    from cirn.egress.checks import ScanContext, scan_bytes
    ctx = ScanContext()
    held = scan_bytes(b"the outlier was P-ABCDEFGHIJKLMN23 in batch 2\n", "notes.txt", ctx)[0]
    assert held.verdict.label == "review" and locations(held, "identifier.pseudonym-shape") == ["line 1, col 17"]
    lowercase = scan_bytes(b"then s-apynkeqtpyjwaegu left\n", "notes.txt", ctx)[0]  # no digit in it
    assert locations(lowercase, "identifier.pseudonym-shape") == ["line 1, col 6"]
    # traps: hyphenated words, a longer token, a shorter one
    clean = scan_bytes(b"non-self-similar S-ABCDEFGHIJKLMN234 S-ABCDEFGHIJKLMN2 x-abcdefghijklmnop\n", "notes.txt", ctx)[0]
    assert not only(clean, "identifier.")


def test_normalise_maps_offsets_back():
    from cirn.egress.checks.normalise import normalise
    text = "a\u200bＢc 가\u11a8 Ｄ"
    view = normalise(text, fold=True)
    assert view.text == "abc 각 d"
    assert [text[view.source_offset(i)] for i in range(len(view.text))][:3] == ["a", "Ｂ", "c"]
    assert normalise("plain ascii").text == "plain ascii" and normalise("한글 그대로").unchanged_offsets


def test_identifier_hidden_in_base64_is_found(scan):
    payload = base64.b64encode(f"excluded: {LISTED}\n".encode()).decode()
    report = scan("notes.md", f"see attachment {payload} for details\n")
    assert locations(report, "identifier.exact") == ["line 1, col 16, decoded base64, line 1, col 11"]
    assert only(report, "hidden-content.encoded-run")
    assert hmac.compare_digest(report.verdict.label, "block")
