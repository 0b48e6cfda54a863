"""The whole path as people walk it, in a real browser, logging in through a real OpenID provider:
a researcher applies with documents → the distribution and research committees approve → an
enclave admin provisions → the researcher starts the project's server and queries the granted
dataset with DuckDB in JupyterLab → she saves an aggregate table in the project folder and asks
for its release from JupyterLab's Release menu → she sees the request and the checks' verdict in
her requests, and an egress reviewer (not on the project) sees it in the review queue. Each step
checks what that person sees."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from cirn.datasets.clinical import ingest_clinical
from cirn.hub.applications.samples import CLINICAL_CSV, minimal_pdf
from cirn.hub.harness import fresh_enclave, new_hub, remove_test_objects
from cirn.policies.application_rules import load_application_policy

from tests.e2e.lab import run_in_cell
from tests.e2e.oidc_idp import oidc_login, provider_for

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]

USERS = {"alice": {"password": "alice-pw-7", "name": "Alice Kim", "groups": ["researchers"]},
         "dana": {"password": "dana-pw-7", "groups": ["distribution-committee"]},
         "remy": {"password": "remy-pw-7", "groups": ["research-committee"]},
         "root": {"password": "root-pw-7", "groups": ["enclave-admins"]},
         "rita": {"password": "rita-pw-7", "groups": ["egress-reviewers"]}}
POLICY = load_application_policy()
# Rows per diagnosis, and the variables the project's extract holds.
QUERY = ("import duckdb; t = '/data/cohort/table.parquet'; "
         "print(duckdb.sql(f\"select diagnosis, count(*) as n from '{t}' group by 1 order by 1\").fetchall(), "
         "sorted(c[0] for c in duckdb.sql(f\"select * from '{t}'\").description))")
# The result to release: counts per diagnosis (all of ten or more), saved in the project folder.
RESULT = "diagnosis_counts.csv"
SAVE = ("import duckdb; t = '/data/cohort/table.parquet'; out = '/home/jovyan/project/" + RESULT + "'; "
        "duckdb.sql(f\"copy (select diagnosis, count(*) as n from '{t}' group by 1 order by 1) to '{out}' (header)\"); "
        "print(open(out).read())")


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    home = tmp_path_factory.mktemp("cirn-flow")
    enclave = fresh_enclave(home)
    src = home / "cohort.csv"
    src.write_text(CLINICAL_CSV)
    ingest_clinical(enclave.state, src, "cohort", "1.0", source_project="test", description="Rare-disease cohort")
    hub = new_hub(home)
    idp = provider_for(hub, home / "idp", USERS)
    idp.start()
    hub.env = idp.hub_env()
    slug = "f" + uuid.uuid4().hex[:6] + "-burden"
    try:
        hub.start()
        yield hub, enclave, slug
    finally:
        hub.stop()
        idp.stop()
        remove_test_objects(docker_client, slug[:7])


def signed_in(browser, hub, user):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    oidc_login(page, hub.url, user, USERS[user]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    page.goto(f"{hub.url}/services/applications/")
    page.wait_for_selector("#applications-main")
    return page


def state_of(page) -> str:
    return page.locator("#app-state").get_attribute("data-state")


def test_apply_review_provision_and_query_in_jupyterlab(browser, page, world):
    hub, enclave, slug = world
    today = dt.date.today()
    irb_expiry = today + dt.timedelta(days=180)

    # 1. The researcher logs in through the identity provider and has no project yet.
    oidc_login(page, hub.url, "alice", USERS["alice"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    assert page.locator("#cirn-no-projects").is_visible()

    # 2. She fills the application: purpose, plan, period, and only the variables she needs.
    page.goto(f"{hub.url}/services/applications/")
    page.click("#new-application")
    page.fill("#title", "Variant burden by diagnosis")
    page.fill("#project_slug", slug)
    page.fill("#purpose", "Compare age at diagnosis across rare-disease groups.")
    page.fill("#research_plan", "Descriptive statistics by diagnosis.")
    page.fill("#infrastructure", "CIRN enclave notebooks only.")
    page.fill("#data_use_plan", "Counts of at least ten leave through egress review.")
    page.fill("#requested_start", today.isoformat())
    page.fill("#requested_end", (today + dt.timedelta(days=365)).isoformat())
    page.check("input[name='dataset'][value='cohort@1.0']")
    for var in ("participant_id", "age", "diagnosis"):
        page.check(f"input[name='var:cohort@1.0'][value='{var}']")
    page.click("#save-application")
    page.wait_for_selector("#app-state")
    assert state_of(page) == "draft"
    missing = page.locator("#missing").inner_text()
    assert "Upload the IRB approval notice." in missing and "Read and sign the security pledge." in missing
    assert page.locator("#submit-application").is_disabled()
    app_url = page.url.split("?")[0]

    # 3. Documents: the IRB notice with its number and expiry, then the other required ones.
    for doc in POLICY.required_documents:
        page.select_option("#doc-kind", doc.id)
        if doc.id == "irb":
            page.fill("#irb_number", "IRB-2026-0421")
            page.fill("#irb_expires", irb_expiry.isoformat())
        page.set_input_files("#doc-file", files=[{"name": f"{doc.id}.pdf", "mimeType": "application/pdf",
                                                  "buffer": minimal_pdf(doc.title)}])
        page.click("#upload-document")
        page.wait_for_selector("#flash")
        assert "Document uploaded" in page.locator("#flash").inner_text()
    assert page.locator("#irb-number").inner_text() == "IRB-2026-0421"

    # 4. She reads and signs the pledge, and submits.
    assert "only for the approved purpose" in page.locator("#pledge-text").inner_text()
    page.check("#pledge-accept")
    page.fill("#pledge-name", "Alice Kim")
    page.click("#sign-pledge")
    page.wait_for_selector("#pledge-signed")
    assert page.locator("#missing").count() == 0
    assert page.locator("#app-expiry").inner_text().startswith(irb_expiry.isoformat())
    page.click("#submit-application")
    page.wait_for_selector("#flash")
    assert state_of(page) == "in_review"

    # 5. The research review committee approves first, then the distribution committee.
    for user, committee, comment in (("remy", "research", "Proportionate and ethical."),
                                     ("dana", "distribution", "")):
        reviewer = signed_in(browser, hub, user)
        reviewer.locator("#to-review a", has_text="Variant burden by diagnosis").click()
        reviewer.wait_for_selector(f"#decide-{committee}")
        reviewer.fill(f"#decide-{committee} textarea[name=comment]", comment)
        reviewer.locator(f"#decide-{committee} button[value=approve]").click()
        reviewer.wait_for_selector("#flash")
        assert f"Decision recorded for the {committee} committee." in reviewer.locator("#flash").inner_text()
        reviewer.context.close()
    page.goto(app_url)
    assert state_of(page) == "approved"
    assert "Proportionate and ethical." in page.locator("#decisions").inner_text()

    # 6. The enclave admin provisions with one action and sees the whole history.
    admin = signed_in(browser, hub, "root")
    admin.locator("#to-provision a", has_text="Variant burden by diagnosis").click()
    admin.click("#provision")
    admin.wait_for_selector("#flash", timeout=120_000)
    assert "The project is ready" in admin.locator("#flash").inner_text()
    assert state_of(admin) == "provisioned"
    admin.click("#history-link")
    history = admin.locator("#history").inner_text()
    for action in ("application.submitted", "application.research_approved", "application.distribution_approved",
                   "application.approved", "application.provisioned", "project.created", "project.provisioned"):
        assert action in history
    admin.context.close()

    # 7. The researcher sees the project on the hub, starts it, and queries the granted data.
    page.goto(f"{hub.url}/hub/home")
    row = page.locator(f"tr[data-project='{slug}']")
    assert "cohort@1.0" in row.inner_text() and irb_expiry.isoformat() in row.inner_text()
    row.locator("a", has_text="Start").click()
    page.wait_for_url(f"**/user/alice/{slug}/lab**", timeout=180_000)
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=120_000)
    cell = page.locator(".jp-Notebook .jp-Cell").first
    output = run_in_cell(page, cell, QUERY)
    text = output.first.inner_text()
    assert "[('RD1', 14), ('RD2', 13), ('RD3', 13)]" in text, text
    # Only the granted variables are there: no sex, no hpo_terms.
    assert "['age', 'diagnosis', 'participant_id']" in text, text

    # 8. She saves the aggregate table in the project folder from a second cell, and sees it there.
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(SAVE)
    page.keyboard.press("Shift+Enter")
    saved = cell.locator(".jp-OutputArea-output").first
    saved.wait_for(timeout=60_000)
    assert "diagnosis,n\nRD1,14\nRD2,13\nRD3,13" in saved.inner_text(), saved.inner_text()
    # JupyterLab opens in the project folder (~/project), where the file browser now lists the table.
    assert page.locator(".jp-BreadCrumbs").inner_text().strip(" /") == "project"
    page.locator(".jp-DirListing-content").get_by_text(RESULT, exact=True).wait_for()

    # 9. She asks for its release from JupyterLab's Release menu: the service's picker opens in a tab.
    page.locator(".lm-MenuBar-itemLabel", has_text="Release").click()
    with page.context.expect_page() as opened:
        page.locator(".lm-Menu-itemLabel", has_text="Ask for a release").click()
    svc = opened.value
    svc.set_default_timeout(60_000)
    svc.click(f"#new-{slug}")
    row = svc.locator(f"#workspace-files tr[data-path='{RESULT}']")
    row.locator("input[type=checkbox]").check()
    row.locator(f"input[name='justification:{RESULT}']").fill("counts per diagnosis, every count at least 13")
    svc.fill("#reason", "Table 1 of the paper: participants per diagnosis")
    svc.click("#submit-request")
    svc.wait_for_selector("#flash")
    assert "the files were copied and are being checked" in svc.locator("#flash").inner_text()
    rid = int(svc.url.split("/requests/")[1].split("?")[0])
    for _ in range(120):
        if svc.locator("#request-state").get_attribute("data-state") != "submitted":
            break
        time.sleep(1)
        svc.reload()
    assert svc.locator("#request-state").get_attribute("data-state") == "checked"
    assert svc.locator("#request-verdict").inner_text() == "pass"

    # 10. Her requests list it, checked, with the checks' verdict.
    svc.goto(f"{hub.url}/services/egress/")
    mine = svc.locator(f"#my-requests tr[data-request='{rid}']")
    assert mine.get_attribute("data-state") == "checked"
    cells = mine.locator("td").all_inner_texts()
    assert cells[1:4] == [slug, "alice", "checked"] and cells[5] == "pass", cells

    # 11. An egress reviewer, who is not on the project, logs in the same way and finds it in the queue.
    reviewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    reviewer.set_default_timeout(60_000)
    oidc_login(reviewer, hub.url, "rita", USERS["rita"]["password"])
    reviewer.wait_for_url(f"{hub.url}/hub/home")
    reviewer.goto(f"{hub.url}/services/egress/queue")
    queued = reviewer.locator(f"#queue tr[data-request='{rid}']").inner_text()
    for seen in (slug, "alice", "Table 1 of the paper", "pass", RESULT, "checked"):
        assert seen in queued, queued
    reviewer.context.close()
