"""PDFs: the text of every page is checked and located by page; a PDF that cannot be read
(encrypted, damaged) is blocked with the reason; a readable one still needs a person."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter

from egress_testing import checks, locations, only


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one Helvetica text line per line of each page."""
    font = 3 + 2 * len(pages)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(len(pages)))}] /Count {len(pages)} >>"]
    for i, text in enumerate(pages):
        ops = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in text.split("\n")) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>")
        objects.append(f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{o:010d} 00000 n \n" for o in offsets).encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def test_pdf_text_is_checked_with_page_locations(scan):
    data = make_pdf(["Results summary", "Contact 010-2345-6789 for details\nparticipant P0001234 withdrew"])
    report = scan("report.pdf", data)
    assert report.kind == "document" and report.verdict.label == "block"
    assert locations(report, "pii.kr-phone") == ["page 2, line 1, col 9"]
    assert locations(report, "identifier.exact") == ["page 2, line 2, col 13"]
    assert locations(report, "blocked-type.pdf") == ["file"]


def test_clean_pdf_still_needs_a_person(scan):
    report = scan("clean.pdf", make_pdf(["Cohort of 2,400 participants", "Mean age 54.2 years"]))
    assert report.verdict.label == "review" and checks(report) == {"blocked-type.pdf"}
    assert "figures" in only(report, "blocked-type.pdf")[0].message


def test_pdf_without_text_says_so(scan):
    report = scan("scanned.pdf", make_pdf([""]))
    assert report.verdict.label == "review" and "no text could be extracted" in only(report, "blocked-type.pdf")[0].message


def test_encrypted_pdf_is_blocked(scan):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["P0001234"]))))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    report = scan("locked.pdf", out.getvalue())
    assert report.verdict.label == "block"
    assert locations(report, "blocked-type.encrypted-document") == ["file"]
    assert "encrypted" in only(report, "blocked-type.encrypted-document")[0].message


def test_damaged_pdf_is_blocked_with_the_reason(scan):
    for name, data in (("truncated.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n"), ("half.pdf", make_pdf(["text"])[:300])):
        report = scan(name, data)
        assert report.kind == "document" and report.verdict.label == "block", name
        assert "cannot be checked" in only(report, "blocked-type.unreadable-document")[0].message
