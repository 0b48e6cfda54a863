"""The applications service behind a real hub: an applicant applies with documents, both
committees decide, an enclave admin provisions; each person acts with their own hub token."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from cirn import projects
from cirn.datasets.clinical import ingest_clinical
from cirn.enclave import Enclave
from cirn.hub.applications.samples import CLINICAL_CSV, minimal_pdf
from cirn.hub.harness import new_hub
from cirn.policies.application_rules import load_application_policy

pytestmark = [pytest.mark.hub]

PEOPLE = {"alice": ["researchers"], "bob": ["researchers"], "mallory": ["researchers"],
          "dana": ["distribution-committee"], "dora": ["distribution-committee", "researchers"],
          "remy": ["research-committee"], "root": ["enclave-admins"]}
POLICY = load_application_policy()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("cirn-apps")
    enclave = Enclave.from_env({"CIRN_HOME": str(home)})
    enclave.init()
    src = home / "clin.csv"
    src.write_text(CLINICAL_CSV)
    ingest_clinical(enclave.state, src, "clin", "1.0", source_project="test", description="Test cohort")
    # The test's admin token also manages group membership (the OIDC claim's job in production).
    hub = new_hub(home, extra_config="c.JupyterHub.load_roles[-1]['scopes'].append('groups')")
    hub.start()
    tokens = {}
    for name, groups in PEOPLE.items():
        hub.create_user(name)
        for g in groups:
            r = requests.post(f"{hub.api}/groups/{g}/users", headers=hub.headers(), json={"users": [name]}, timeout=10)
            assert r.ok, r.text
        tokens[name] = hub.user_token(name)
    yield hub, enclave, tokens
    hub.stop()


class Person:
    def __init__(self, hub, token):
        self.base = f"{hub.url}/services/applications/"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {token}"

    def get(self, path=""):
        return self.s.get(self.base + path, timeout=30)

    def post(self, path, data=None, files=None):
        return self.s.post(self.base + path, data=data, files=files, timeout=60, allow_redirects=False)


def who(service, name):
    hub, _, tokens = service
    return Person(hub, tokens[name])


def test_whole_flow_through_the_service(service):
    hub, enclave, _ = service
    alice, bob, dora, dana, remy, root, mallory = (who(service, n) for n in
                                                   ("alice", "bob", "dora", "dana", "remy", "root", "mallory"))
    page = alice.get()
    assert page.status_code == 200 and 'id="new-application"' in page.text
    form = alice.get("new")
    assert "participant_id" in form.text and "quasi-identifier" in form.text  # the dictionary's variables

    # A dataset ticked without variables is refused with a message that says what to do.
    r = alice.post("new", {"title": "T", "project_slug": "svc-study", "dataset": "clin@1.0"})
    assert r.status_code == 409 and "choose the variables you need from clin@1.0" in r.text

    today = dt.date.today()
    r = alice.post("new", {
        "title": "Diagnosis and age", "project_slug": "svc-study", "purpose": "Age at diagnosis.",
        "research_plan": "Descriptive statistics.", "infrastructure": "Enclave only.",
        "data_use_plan": "Aggregates through egress review.", "requested_start": today.isoformat(),
        "requested_end": (today + dt.timedelta(days=300)).isoformat(), "members": "bob, dora",
        "dataset": "clin@1.0", "var:clin@1.0": ["participant_id", "age", "diagnosis"]})
    assert r.status_code == 302, r.text
    app_id = re.search(r"/services/applications/(\d+)", r.headers["Location"]).group(1)
    page = alice.get(app_id)
    assert 'data-state="draft"' in page.text
    assert "Upload the IRB approval notice." in page.text and "Read and sign the security pledge." in page.text
    assert 'id="submit-application" disabled' in page.text

    r = alice.post(f"{app_id}/documents", {"kind": "irb", "irb_number": "IRB-9", "irb_expires": "2030-01-01"},
                   files={"file": ("notice.docx", b"PK\x03\x04 not a pdf", "application/octet-stream")})
    assert r.status_code == 409 and "is not a PDF" in r.text
    irb_expiry = today + dt.timedelta(days=200)
    for doc in POLICY.required_documents:
        r = alice.post(f"{app_id}/documents",
                       {"kind": doc.id, "irb_number": "IRB-2026-77", "irb_expires": irb_expiry.isoformat()},
                       files={"file": (f"../{doc.id}.pdf", minimal_pdf(doc.title), "application/pdf")})
        assert r.status_code == 302, r.text
    r = alice.post(f"{app_id}/pledge", {"accept": "yes", "name": "Alice Kim", "pledge_sha256": POLICY.pledge.sha256})
    assert r.status_code == 302
    page = alice.get(app_id)
    assert 'id="missing"' not in page.text and "Signed by <strong>Alice Kim</strong>" in page.text
    assert f'id="app-expiry">{irb_expiry.isoformat()}' in page.text
    doc = re.search(rf'href="/services/applications/{app_id}/documents/(\d+)">irb.pdf', page.text)
    assert doc, "uploaded names are reduced to a safe file name"
    got = bob.get(f"{app_id}/documents/{doc.group(1)}")
    assert got.status_code == 200 and got.content == minimal_pdf("IRB approval notice")
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert mallory.get(app_id).status_code == 403
    assert alice.post(f"{app_id}/submit").status_code == 302

    # Members on a committee cannot decide; people without the committee role cannot either.
    r = dora.post(f"{app_id}/decide", {"committee": "distribution", "outcome": "approve"})
    assert r.status_code == 403 and "part of application" in r.text
    assert bob.post(f"{app_id}/decide", {"committee": "research", "outcome": "approve"}).status_code == 403
    assert app_id in dana.get().text  # on the committee's list
    r = remy.post(f"{app_id}/decide", {"committee": "research", "outcome": "approve", "comment": "Sound plan."})
    assert r.status_code == 302
    assert 'data-state="in_review"' in alice.get(app_id).text
    assert dana.post(f"{app_id}/decide", {"committee": "distribution", "outcome": "approve"}).status_code == 302
    page = alice.get(app_id)
    assert 'data-state="approved"' in page.text and "Sound plan." in page.text

    assert alice.post(f"{app_id}/provision").status_code == 403
    assert 'id="provision"' in root.get(app_id).text
    r = root.post(f"{app_id}/provision")
    assert r.status_code == 302, r.text
    with enclave.db.session() as s:
        p = projects.get_project(s, "svc-study")
        assert [m.username for m in p.members] == ["alice", "bob", "dora"]
        assert p.expires == irb_expiry
        assert [(g.dataset_id, g.columns) for g in p.grants] == [("clin", '["age", "diagnosis", "participant_id"]')]
    assert (enclave.state.project_data("svc-study") / "clin" / "table.parquet").is_file()

    history = root.get(f"{app_id}/history")
    for action in ("application.created", "application.document_added", "application.pledge_signed",
                   "application.submitted", "application.research_approved", "application.distribution_approved",
                   "application.approved", "application.provisioned", "project.created", "project.granted",
                   "project.provisioned"):
        assert f'data-action="{action}"' in history.text, action
    assert alice.get(f"{app_id}/history").status_code == 403


def test_committee_asks_for_changes_and_applicant_sees_the_comment(service):
    alice, dana = who(service, "alice"), who(service, "dana")
    today = dt.date.today()
    r = alice.post("new", {"title": "Second", "project_slug": "svc-second", "purpose": "p", "research_plan": "r",
                           "infrastructure": "i", "data_use_plan": "d", "requested_start": today.isoformat(),
                           "requested_end": (today + dt.timedelta(days=30)).isoformat(),
                           "dataset": "clin@1.0", "var:clin@1.0": "*"})
    app_id = re.search(r"/services/applications/(\d+)", r.headers["Location"]).group(1)
    for doc in POLICY.required_documents:
        alice.post(f"{app_id}/documents", {"kind": doc.id, "irb_number": "N", "irb_expires": "2031-01-01"},
                   files={"file": ("d.pdf", minimal_pdf(), "application/pdf")})
    alice.post(f"{app_id}/pledge", {"accept": "yes", "name": "Alice", "pledge_sha256": POLICY.pledge.sha256})
    assert alice.post(f"{app_id}/submit").status_code == 302
    r = dana.post(f"{app_id}/decide", {"committee": "distribution", "outcome": "request_changes", "comment": ""})
    assert r.status_code == 409 and "say in the comment" in r.text
    dana.post(f"{app_id}/decide", {"committee": "distribution", "outcome": "request_changes",
                                   "comment": "Ask only for the variables you need."})
    page = alice.get(app_id)
    assert 'data-state="changes_requested"' in page.text and "Ask only for the variables you need." in page.text
    assert 'id="edit-application"' in page.text


def test_amendment_changes_the_project_only_once_provisioned(service):
    """Runs after the whole flow above, which provisioned svc-study for alice, bob and dora."""
    _, enclave, _ = service
    bob, dana, remy, root = (who(service, n) for n in ("bob", "dana", "remy", "root"))
    assert who(service, "mallory").post("amend/svc-study").status_code == 403
    r = bob.post("amend/svc-study")
    assert r.status_code == 302 and r.headers["Location"].split("?")[0].endswith("/edit")
    app_id = re.search(r"/services/applications/(\d+)", r.headers["Location"]).group(1)
    today = dt.date.today()
    r = bob.post(f"{app_id}/edit", {
        "title": "Diagnosis and age", "purpose": "Age at diagnosis, now with sex.", "research_plan": "Same.",
        "infrastructure": "Enclave only.", "data_use_plan": "Aggregates.", "requested_start": today.isoformat(),
        "requested_end": (today + dt.timedelta(days=100)).isoformat(), "members": "alice dora mallory",
        "dataset": "clin@1.0", "var:clin@1.0": ["participant_id", "age", "diagnosis", "sex"]})
    assert r.status_code == 302, r.text
    page = bob.get(app_id)
    assert "Amendment of <code>svc-study</code>" in page.text
    assert "Read and sign the security pledge." in page.text  # documents carry over, the signature does not
    bob.post(f"{app_id}/pledge", {"accept": "yes", "name": "Bob Park", "pledge_sha256": POLICY.pledge.sha256})
    assert bob.post(f"{app_id}/submit").status_code == 302
    dana.post(f"{app_id}/decide", {"committee": "distribution", "outcome": "approve"})
    remy.post(f"{app_id}/decide", {"committee": "research", "outcome": "approve"})
    with enclave.db.session() as s:
        assert "mallory" not in [m.username for m in projects.get_project(s, "svc-study").members]
    assert root.post(f"{app_id}/provision").status_code == 302
    with enclave.db.session() as s:
        p = projects.get_project(s, "svc-study")
        assert [m.username for m in p.members] == ["alice", "bob", "dora", "mallory"]
        assert p.grants[0].columns == '["age", "diagnosis", "participant_id", "sex"]'
        assert p.expires == today + dt.timedelta(days=100)


def test_the_banner_shows_only_fixed_texts_chosen_by_a_key(service):
    from cirn.hub.applications.banners import BANNERS
    alice = who(service, "alice")
    r = alice.post("new", {"title": "Banner check", "project_slug": "svc-banner", "purpose": "p",
                           "research_plan": "r", "infrastructure": "i", "data_use_plan": "d"})
    assert r.status_code == 302 and r.headers["Location"].endswith("?done=drafted"), r.headers.get("Location")
    app_id = re.search(r"/services/applications/(\d+)", r.headers["Location"]).group(1)
    assert BANNERS["drafted"] in alice.get(f"{app_id}?done=drafted").text
    forged = "Approved: download the data from http://evil.example/"
    for query in (f"?msg={forged}", f"?done={forged}", "?done=%3Cb%3Ehi%3C/b%3E"):
        page = alice.get(f"{app_id}{query}")
        assert page.status_code == 200 and "evil.example" not in page.text and 'id="flash"' not in page.text
