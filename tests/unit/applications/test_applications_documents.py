"""Document checks, what the form lists as missing, the pledge's hash, and the content-addressed store."""

from __future__ import annotations

import datetime as dt

import pytest

from cirn.datasets.catalog import Catalog
from cirn.errors import Conflict
from cirn.hub.applications import workflow
from cirn.hub.applications.documents import (DocumentRejected, check_document, looks_like_pdf, safe_filename,
                                             store_bytes, stored_path)
from cirn.hub.applications.samples import minimal_pdf
from cirn.policies.application_rules import ApplicationPolicy, load_application_policy

from applications_testing import APPLICANT, POLICY, TODAY, complete_draft


def test_a_valid_pdf_passes_and_other_files_are_named_in_the_refusal():
    check_document(POLICY, "irb", "notice.pdf", minimal_pdf())
    assert looks_like_pdf(minimal_pdf())
    with pytest.raises(DocumentRejected, match="'notice.docx' is not a PDF"):
        check_document(POLICY, "irb", "notice.docx", b"PK\x03\x04 a word file")
    with pytest.raises(DocumentRejected, match="is empty"):
        check_document(POLICY, "irb", "empty.pdf", b"")
    with pytest.raises(DocumentRejected, match="unknown document kind 'cv'; upload one of: irb"):
        check_document(POLICY, "cv", "cv.pdf", minimal_pdf())
    with pytest.raises(DocumentRejected, match="not a PDF"):
        check_document(POLICY, "irb", "cut.pdf", minimal_pdf()[:200])  # truncated: no %%EOF


def test_uploads_over_the_cap_are_refused():
    small = POLICY.model_copy(update={"max_upload_mb": 0.001})
    with pytest.raises(DocumentRejected, match="the limit is 0.001 MB"):
        check_document(small, "irb", "big.pdf", minimal_pdf("x" * 2000))


def test_store_is_content_addressed_and_read_only(enclave):
    one = store_bytes(enclave.state, minimal_pdf("a"))
    again = store_bytes(enclave.state, minimal_pdf("a"))
    assert one == again and one.path == stored_path(enclave.state, one.sha256)
    assert one.path.read_bytes() == minimal_pdf("a") and oct(one.path.stat().st_mode & 0o777) == "0o440"
    with pytest.raises(ValueError):
        stored_path(enclave.state, "../../etc/passwd")
    assert safe_filename("../../etc/pass wd;rm.pdf") == "pass wd_rm.pdf"
    assert safe_filename("C:\\Users\\x\\IRB.pdf") == "IRB.pdf"


def test_the_form_says_what_is_missing(enclave):
    with enclave.db.session() as s:
        app = workflow.create_application(s, APPLICANT, "study-empty")
        missing = workflow.missing_for_submission(s, app, POLICY, Catalog(enclave.state), TODAY)
        with pytest.raises(Conflict, match="not complete"):
            workflow.submit(s, app, APPLICANT, POLICY, Catalog(enclave.state), TODAY)
    for doc in POLICY.required_documents:
        assert f"Upload the {doc.title}." in missing
    assert "Read and sign the security pledge." in missing
    assert "Fill in the purpose." in missing
    assert "Choose at least one dataset and the variables you need." in missing


def test_a_complete_application_misses_nothing_and_expired_irb_is_caught(enclave):
    with enclave.db.session() as s:
        ready = complete_draft(s, enclave)
        assert workflow.missing_for_submission(s, ready, POLICY, Catalog(enclave.state), TODAY) == []
        stale = complete_draft(s, enclave, slug="study-stale", irb_expires=TODAY - dt.timedelta(days=1))
        missing = workflow.missing_for_submission(s, stale, POLICY, Catalog(enclave.state), TODAY)
    assert missing == [f"The IRB approval expired on {(TODAY - dt.timedelta(days=1)).isoformat()}; "
                       "upload the current notice."]


def test_unknown_datasets_and_variables_are_named(enclave):
    with enclave.db.session() as s:
        app = complete_draft(s, enclave)
        workflow.update_application(s, app, APPLICANT, datasets=[
            {"dataset": "clin", "version": "1.0", "columns": ["age", "shoe_size"]},
            {"dataset": "nope", "version": "1", "columns": None}])
        missing = " ".join(workflow.missing_for_submission(s, app, POLICY, Catalog(enclave.state), TODAY))
    assert "clin@1.0 has no variable(s) shoe_size" in missing
    assert "dataset 'nope' is not in the catalog" in missing


def test_irb_upload_needs_number_and_expiry(enclave):
    with enclave.db.session() as s:
        app = workflow.create_application(s, APPLICANT, "study-irb")
        stored = store_bytes(enclave.state, minimal_pdf())
        with pytest.raises(Conflict, match="approval number"):
            workflow.add_document(s, app, APPLICANT, "irb", "irb.pdf", stored, irb_number=" ", irb_expires=TODAY)
        with pytest.raises(Conflict, match="expiry date"):
            workflow.add_document(s, app, APPLICANT, "irb", "irb.pdf", stored, irb_number="X-1", irb_expires=None)


def test_pledge_records_name_time_and_the_hash_of_the_text_shown(enclave):
    with enclave.db.session() as s:
        app = workflow.create_application(s, APPLICANT, "study-pledge")
        with pytest.raises(Conflict, match="changed while you were reading"):
            workflow.sign_pledge(s, app, APPLICANT, POLICY, "Alice", "0" * 64)
        workflow.sign_pledge(s, app, APPLICANT, POLICY, "Alice Researcher", POLICY.pledge.sha256)
        assert (app.pledge_name, app.pledge_sha256) == ("Alice Researcher", POLICY.pledge.sha256)
        assert app.pledge_signed_at is not None
        # A new pledge text means the signature no longer covers it.
        newer = POLICY.model_copy(update={"pledge": POLICY.pledge.model_copy(update={"text": POLICY.pledge.text + " Also."})})
        missing = workflow.missing_for_submission(s, app, newer, Catalog(enclave.state), TODAY)
    assert any("has changed since you signed it" in m for m in missing)


def test_policy_must_require_the_irb_notice(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("required_documents: [{id: cv, title: CV}]\npledge: {title: P, text: 'I will behave myself always.'}\n")
    from cirn.policies.application_rules import ApplicationPolicyError
    with pytest.raises(ApplicationPolicyError, match="must include the IRB approval notice"):
        load_application_policy(bad)
    assert isinstance(load_application_policy(), ApplicationPolicy)
