"""Egress review in a real browser: a researcher asks from JupyterLab for two files of the project
folder to be released, a reviewer sees the findings and rejects one with a comment, the
researcher fixes it and resubmits, two reviewers approve, and the researcher downloads the
package and its checksums verify."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from cirn.egress.review.package import verify_package
from cirn.hub.auth import set_account
from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def enclave_hub(tmp_path_factory, docker_client, images):
    enclave = fresh_enclave(tmp_path_factory.mktemp("cirn-e2e-egress"))
    slug = "e" + uuid.uuid4().hex[:6] + "-study"
    with enclave.db.session() as s:
        set_account(s, "test", "alice", PASSWORD, groups=["researchers"])
        set_account(s, "test", "rev1", PASSWORD, groups=["egress-reviewers"])
        set_account(s, "test", "rev2", PASSWORD, groups=["egress-reviewers"])
    ws = add_project(enclave, slug, "Study", ["alice"])
    (ws / "out").mkdir()
    (ws / "out" / "counts.csv").write_text("group,count\nA,3\nB,40\nC,25\n")
    (ws / "out" / "summary.txt").write_text("Mean age was 52 years (SD 11).\n")
    for p in (ws / "out", ws / "out" / "counts.csv", ws / "out" / "summary.txt"):
        os.chown(p, 1000, 1000)
    hub = new_hub(enclave.state.root)
    hub.start()
    yield hub, slug, enclave
    hub.stop()
    remove_test_objects(docker_client, slug.split("-")[0])


def login(page, hub, user):
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home**")


def wait_checked(page):
    for _ in range(120):
        if page.locator("#request-state").get_attribute("data-state") != "submitted":
            return
        time.sleep(1)
        page.reload()
    raise AssertionError("the checks did not finish")


def review(page, hub, rid, decisions: dict[str, tuple[str, str]]):
    page.goto(f"{hub.url}/services/egress/queue")
    page.locator(f"#queue tr[data-request='{rid}'] a").first.click()
    for path, (decision, comment) in decisions.items():
        form = page.locator(f".cirn-file[data-file='{path}'] form.decide-form")
        form.locator("select[name=decision]").select_option(decision)
        form.locator("input[name=comment]").fill(comment)
        if form.locator("input[name=override_reason]").count():
            form.locator("input[name=override_reason]").fill(comment)
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#flash")
    page.click("#submit-review")
    page.wait_for_selector("#flash")
    return page.locator("#request-state").get_attribute("data-state")


def test_researcher_reviewers_and_a_verified_package(browser, enclave_hub, tmp_path):
    hub, slug, enclave = enclave_hub
    researcher = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = researcher.new_page()
    page.set_default_timeout(90_000)
    login(page, hub, "alice")
    page.locator(f"tr[data-project='{slug}'] a", has_text="Start").click()
    page.wait_for_url(f"**/user/alice/{slug}/lab**", timeout=150_000)
    page.wait_for_selector(".jp-DirListing-item >> text=out")
    # JupyterLab's Release menu opens the service in a new tab
    page.locator(".lm-MenuBar-itemLabel", has_text="Release").click()
    with researcher.expect_page() as opened:
        page.locator(".lm-Menu-itemLabel", has_text="Ask for a release").click()
    svc = opened.value
    svc.set_default_timeout(60_000)
    svc.wait_for_selector(f"#new-{slug}")
    svc.click(f"#new-{slug}")
    for path, why in (("out/counts.csv", "counts by group"), ("out/summary.txt", "summary statistic")):
        row = svc.locator(f"#workspace-files tr[data-path='{path}']")
        row.locator("input[type=checkbox]").check()
        row.locator("input[type=text], input:not([type])").last.fill(why)
    svc.fill("#reason", "results for the paper")
    svc.click("#submit-request")
    svc.wait_for_selector("#request-state")
    rid = int(svc.url.split("/requests/")[1].split("?")[0])
    wait_checked(svc)
    # the researcher sees the findings before a reviewer does
    assert "small-count.threshold" in svc.locator(".cirn-file[data-file='out/counts.csv']").inner_text()

    reviewers = browser.new_context(viewport={"width": 1400, "height": 900})
    rp = reviewers.new_page()
    rp.set_default_timeout(60_000)
    login(rp, hub, "rev1")
    rp.goto(f"{hub.url}/services/egress/queue")
    row = rp.locator(f"#queue tr[data-request='{rid}']")
    assert slug in row.inner_text() and "results for the paper" in row.inner_text()
    # per-file view: the flagged cell is highlighted
    rp.locator(f"#queue tr[data-request='{rid}'] a").first.click()
    rp.locator(".cirn-file[data-file='out/counts.csv'] a.view-file").click()
    assert rp.locator("td.cirn-flag.cirn-block").first.inner_text() == "3"
    state = review(rp, hub, rid, {"out/counts.csv": ("reject", "group A has a count of 3: suppress or merge it"),
                                  "out/summary.txt": ("approve", "")})
    assert state == "changes_requested"

    # the researcher reads the comment, fixes the file, resubmits
    svc.goto(f"{hub.url}/services/egress/requests/{rid}")
    assert "group A has a count of 3" in svc.inner_text("body")
    fixed = enclave.state.project_workspace(slug) / "out" / "counts.csv"
    fixed.write_text("group,count\nA,0\nB,40\nC,25\n")
    svc.click("#resubmit")
    svc.wait_for_selector("#flash")
    wait_checked(svc)
    assert svc.locator("#request-state").get_attribute("data-state") == "checked"

    # two reviewers approve (a zero count is a review finding: two people must look)
    assert review(rp, hub, rid, {"out/counts.csv": ("approve", ""), "out/summary.txt": ("approve", "")}) == "in_review"
    rp2 = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    rp2.set_default_timeout(60_000)
    login(rp2, hub, "rev2")
    assert review(rp2, hub, rid, {"out/counts.csv": ("approve", ""), "out/summary.txt": ("approve", "")}) == "released"

    # the researcher downloads the package; its checksums verify
    svc.goto(f"{hub.url}/services/egress/requests/{rid}")
    with svc.expect_download() as dl:
        svc.click("#download")
    target = tmp_path / dl.value.suggested_filename
    dl.value.save_as(target)
    assert verify_package(target) == []
    import zipfile
    with zipfile.ZipFile(target) as z:
        inner = {n.split("/", 1)[1]: n for n in z.namelist()}
        assert z.read(inner["files/out/counts.csv"]) == b"group,count\nA,0\nB,40\nC,25\n"
    researcher.close()
    reviewers.close()


def test_the_reviewer_sees_an_archive_and_an_unseen_member_needs_an_override(browser, enclave_hub):
    """Issue 22 in the browser: the request's text is checked (an e-mail address in the reason shows
    on the request), the banner is a fixed text, an archive's members are listed and drawn, and a
    member with no preview cannot be approved without a written override."""
    import io
    import zipfile

    hub, slug, enclave = enclave_hub
    ws = enclave.state.project_workspace(slug)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("tables/ages.csv", "group,count\nA,30\nB,25\n")
        z.writestr("model/weights.bin", bytes(range(256)) * 4)
    (ws / "out" / "bundle.zip").write_bytes(buf.getvalue())
    researcher = browser.new_context(viewport={"width": 1400, "height": 900})
    page = researcher.new_page()
    page.set_default_timeout(60_000)
    login(page, hub, "alice")
    page.goto(f"{hub.url}/services/egress/new?project={slug}")
    page.locator("#workspace-files tr[data-path='out/bundle.zip'] input[type=checkbox]").check()
    page.fill("#reason", "the model; questions to amy.lee@example.org")
    page.click("#submit-request")
    page.wait_for_selector("#flash")
    assert "?done=submitted" in page.url
    assert page.locator("#flash").inner_text() == "Submitted: the files were copied and are being checked."
    rid = int(page.url.split("/requests/")[1].split("?")[0])
    wait_checked(page)
    assert "the request's reason" in page.locator("#text-findings").inner_text()  # the e-mail address

    rp = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    rp.set_default_timeout(60_000)
    login(rp, hub, "rev1")
    rp.goto(f"{hub.url}/services/egress/requests/{rid}")
    assert "needs 2 approving reviewers" in rp.inner_text("body")
    rp.locator(".cirn-file[data-file='out/bundle.zip'] a.view-file").click()
    assert rp.locator("ul.cirn-members li").count() == 2
    assert rp.locator("li[data-member='tables/ages.csv']").count() == 1
    assert rp.locator("li[data-member='model/weights.bin']").inner_text().endswith("no preview")
    assert rp.locator("section.cirn-member table.cirn-table td", has_text="30").count() == 1
    assert "No preview for a binary file" in rp.locator("#file-view").inner_text()
    # approving without an override is refused by the service, whatever the page sends
    rp.goto(f"{hub.url}/services/egress/requests/{rid}")
    form = rp.locator(".cirn-file[data-file='out/bundle.zip'] form.decide-form")
    form.locator("select[name=decision]").select_option("approve")
    form.locator("button[type=submit]").click()
    assert "override reason" in rp.locator("#error-message").inner_text()
    rp.goto(f"{hub.url}/services/egress/requests/{rid}")
    form = rp.locator(".cirn-file[data-file='out/bundle.zip'] form.decide-form")
    form.locator("select[name=decision]").select_option("approve")
    form.locator("input[name=override_reason]").fill("weights checked offline: no rows")
    form.locator("button[type=submit]").click()
    rp.wait_for_selector("#flash")
    assert rp.locator("#flash").inner_text() == "Decision recorded; submit your review when every file is decided."
    assert "weights checked offline" in rp.locator(".cirn-file[data-file='out/bundle.zip'] .decision").inner_text()
    researcher.close()
