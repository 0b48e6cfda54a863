"""Personal information found with Presidio offline: each entity found, each known trap not."""

from __future__ import annotations

import pytest

from egress_testing import locations, only


@pytest.mark.parametrize("line,check,severity", [
    ("주민등록번호: 850312-1234568", "pii.kr-rrn", "block"),          # valid checksum
    ("RRN 850312-1234567", "pii.kr-rrn", "block"),                  # bad checksum: post-2020 tails are random
    ("주민번호 8503121234567", "pii.kr-rrn", "block"),                 # without the dash
    ("masked 850312-1******", "pii.kr-rrn-masked", "block"),
    ("외국인등록번호 900101-5123456", "pii.kr-frn", "block"),
    ("여권번호 M123A4567", "pii.kr-passport", "block"),
    ("passport number: M12345678", "pii.kr-passport", "block"),
    ("운전면허번호 11-22-123456-12", "pii.kr-driver-licence", "block"),
    ("연락처 010-1234-5678", "pii.kr-phone", "block"),
    ("call +82 10 1234 5678", "pii.kr-phone", "block"),
    ("서울 02-312-4567", "pii.kr-phone", "block"),
    ("contact: kim.minsu@example.ac.kr", "pii.email", "review"),
    ("건강보험증번호 1-2345678901", "pii.kr-health-insurance", "block"),
    ("성명: 홍길동", "pii.person-name", "review"),
    ("Patient: John Smith", "pii.person-name", "review"),
])
def test_entity_found_with_location(scan, line, check, severity):
    report = scan("notes.txt", "header line\n" + line + "\n")
    found = only(report, check)
    assert found, report.findings
    assert found[0].severity.label == severity
    assert found[0].location.startswith("line 2, col ")
    assert line.split()[-1] not in found[0].message  # the value itself is redacted in the finding


@pytest.mark.parametrize("line", [
    "run at 202403151230 finished",                  # 12-digit timestamp
    "epoch 1700000000000 ms",                         # 13-digit timestamp
    "rs12345678 and rs8503121234 are SNPs",          # rsIDs
    "estimate 0.8503121234567 (se 0.0121)",          # decimal numbers
    "value 8503121234567.25",
    "M12345678 without its context word",            # passport needs context
    "11-22-123456-12 a bare licence-shaped number",  # driver's licence needs context
    "12345678901 an eleven digit number",            # health insurance needs context
    "Name: count, dtype: int64",                     # pandas footer, not a person
    "name: str = 'x'",
    "phone-like 123-4567-8901 that is not Korean",
])
def test_false_positive_traps_do_not_fire(scan, line):
    report = scan("notes.txt", line + "\n")
    assert not only(report, "pii."), report.findings


def test_pii_in_csv_reports_row_and_column(scan):
    report = scan("contacts.csv", "group,comment\nA,call 010-1234-5678\nB,fine\n")
    assert locations(report, "pii.kr-phone") == ["row 1, column 'comment'"]


def test_policy_can_pass_an_entity():
    from cirn.egress.checks.context import ScanContext
    from cirn.egress.checks.text import scan_text
    from cirn.policies.egress_rules import EgressPolicy, PiiRules
    ctx = ScanContext(EgressPolicy(pii=PiiRules(severity={"EMAIL_ADDRESS": "pass"})))
    assert scan_text("mail kim@example.org", ctx, str) == []


def test_prefilter_and_plain_presidio_agree(ctx):
    """The candidate windows must not lose anything Presidio finds on the whole text."""
    text = "\n".join([
        "a,b,c", "1,2,3", "주민등록번호 850312-1234568 and 010-9876-5432", "x" * 5000 + " 여권 M123A4567 " + "y" * 5000,
        "mail a.b@example.com", "성명: 김철수", "nothing here 3.14159",
    ])
    scanner = ctx.pii
    fast = sorted((h.entity, h.start, h.end) for h in scanner.scan(text))
    full = sorted((h.entity, h.start, h.end) for h in scanner.analyze(text))
    assert fast == full and len(fast) == 5


def test_ner_model_plugs_into_presidio(tmp_path):
    """An offline spaCy pipeline named in the policy finds names the patterns cannot."""
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Jane Doe"}])
    model_dir = tmp_path / "tiny_ner"
    nlp.to_disk(model_dir)
    from cirn.egress.checks.pii import PiiScanner
    from cirn.policies.egress_rules import EgressPolicy, NerModel
    policy = EgressPolicy(ner_model=NerModel(engine="spacy", model=str(model_dir), language="en"))
    hits = PiiScanner(policy).scan("the report was written by Jane Doe yesterday")
    assert [(h.entity, h.value) for h in hits] == [("PERSON", "Jane Doe")]


def test_missing_ner_model_is_a_clear_error(tmp_path):
    from cirn.egress.checks.pii import NerModelError, PiiScanner
    from cirn.policies.egress_rules import EgressPolicy, NerModel
    with pytest.raises(NerModelError, match="cannot be loaded"):
        PiiScanner(EgressPolicy(ner_model=NerModel(model=str(tmp_path / "absent"))))
