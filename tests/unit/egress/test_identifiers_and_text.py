"""Identifiers from the list, genomic content in text, figures, documents and the size cap."""

from __future__ import annotations

import time

from cirn.egress.checks.context import ScanContext
from cirn.egress.checks.identifiers import IdentifierSet
from cirn.egress.checks.scan import scan_file
from cirn.policies.egress_rules import EgressPolicy

from egress_testing import locations, only


def test_identifier_exact_match_anywhere(scan):
    report = scan("log.txt", "start\nprocessed S-4KQ2M7Z3XW9D5HTA ok\n")
    assert locations(report, "identifier.exact") == ["line 2, col 11"]
    assert "4KQ2M7Z3" not in only(report, "identifier.exact")[0].message


def test_identifier_inside_a_longer_token_is_not_a_match(scan):
    report = scan("log.txt", "P00012345 and XP0001234 and SMP0007770\n")
    assert not only(report, "identifier.")


def test_identifier_in_csv_cell(scan):
    report = scan("t.csv", "sample,beta\nSMP000777,0.1\nother,0.2\n")
    assert locations(report, "identifier.exact") == ["row 1, column 'sample'"]


def test_hundred_thousand_identifiers_cost_one_pass():
    ids = IdentifierSet(f"S{i:08d}" for i in range(100_000))
    text = ("aggregate line with numbers 12 34 56\n" * 20000) + "S00099999\n"
    start = time.perf_counter()
    hits = list(ids.find(text))
    assert [h[2] for h in hits] == ["S00099999"]
    assert time.perf_counter() - start < 2.0


def test_per_person_genotype_lines(scan):
    report = scan("geno.txt", "sample rsid genotype\nNA12878 rs429358 C/T\nNA12891 rs7412 CC\n")
    assert locations(report, "genotype.per-person-line") == ["line 2, col 1", "line 3, col 1"]
    # trap: a variant annotation line has an rsID and alleles but no person
    trap = scan("annot.txt", "rs429358 chr19:44908684 T/C APOE missense\nrs7412 chr19:44908822 C/T APOE\n")
    assert not only(trap, "genotype.")


def test_raw_sequences_and_fasta_records(scan):
    report = scan("notes.md", "The read was\nACGTTGCAACGTAGCTAGCTAGGCTAACGTAGCTAGCA\n")
    assert locations(report, "genomic-file.sequence") == ["line 2, col 1"]
    fasta = scan("notes2.md", "Primers below\n>amplicon_1\nACGTTGCAACGTAGCTAGCT\n")
    assert locations(fasta, "genomic-file.fasta-record") == ["line 2, col 1"]
    # traps: short motifs, and base64 padding of a single letter
    clean = scan("notes3.md", "motif ACGTACGT and padding AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n> a quote\nnot bases\n")
    assert not only(clean, "genomic-file.")


def test_raster_image_needs_review_svg_blocks(scan):
    png = scan("figure.dat", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert png.kind == "image" and png.verdict.label == "review" and locations(png, "image.raster") == ["file"]
    svg = scan("figure.svg", '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><circle cx="3.14" cy="2"/></svg>')
    assert svg.verdict.label == "block" and locations(svg, "image.vector-coordinates") == ["file"]


def test_unreadable_pdf_blocks(scan):
    report = scan("paper.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n")
    assert report.kind == "document" and report.verdict.label == "block"


def test_size_cap_blocks_with_cap_in_message(tmp_path):
    ctx = ScanContext(EgressPolicy(max_file_bytes=1000))
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" + "1,2\n" * 500)
    report = scan_file(str(big), ctx)[0]
    assert report.verdict.label == "block"
    assert locations(report, "size.cap") == ["file"] and "1000 bytes" in only(report, "size.cap")[0].message
    small = tmp_path / "small.txt"
    small.write_text("ok")
    assert not only(scan_file(str(small), ctx)[0], "size.")


def test_many_findings_are_capped_with_a_summary(scan):
    rows = "".join(f"g{i},{i % 9 + 1}\n" for i in range(200))
    report = scan("many.csv", "group,n\n" + rows)
    found = only(report, "small-count.threshold")
    assert len(found) == 51 and found[-1].location == "file" and "150 more" in found[-1].message


def _docx(text: str) -> bytes:
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", f'<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>')
    return buf.getvalue()


def test_word_document_text_is_checked(scan):
    report = scan("report.docx", _docx("Cohort summary. 연락처 010-1234-5678"))
    assert report.kind == "document"
    assert only(report, "pii.kr-phone")[0].location.startswith("word/document.xml, line ")
    clean = scan("clean.docx", _docx("Cohort summary without people."))
    assert clean.verdict.label == "review" and [f.check for f in clean.findings] == ["blocked-type.office-document"]
