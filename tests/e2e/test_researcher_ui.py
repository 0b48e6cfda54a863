"""A researcher, in a real browser: logs in with the demo login, sees their projects, starts one,
and JupyterLab opens with the granted datasets and the project folder."""

from __future__ import annotations

import uuid

import pytest

from cirn import projects
from cirn.hub.auth import set_account
from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects
from tests.e2e.lab import run_in_cell

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]


@pytest.fixture(scope="module")
def enclave_hub(tmp_path_factory, docker_client, images):
    home = tmp_path_factory.mktemp("cirn-e2e")
    enclave = fresh_enclave(home)
    prefix = "e" + uuid.uuid4().hex[:6]
    slugs = {"open": f"{prefix}-study", "held": f"{prefix}-paused"}
    with enclave.db.session() as s:
        set_account(s, "test", "alice", "correct horse battery", groups=["researchers"])
    for key, slug in slugs.items():
        add_project(enclave, slug, f"Study {key}", ["alice"],
                    extracts={"cohort": {"clinical.csv": "participant,age\nP1,30\n"}})
    with enclave.db.session() as s:
        projects.change_status(s, "test", slugs["held"], "suspend")
    hub = new_hub(home)
    hub.start()
    yield hub, slugs
    hub.stop()
    remove_test_objects(docker_client, prefix)


def login(page, hub, user, password):
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login_submit")


def test_wrong_password_is_refused(page, enclave_hub):
    hub, _ = enclave_hub
    login(page, hub, "alice", "wrong")
    page.wait_for_selector("text=Invalid username or password")
    assert "/hub/login" in page.url


def test_researcher_starts_a_project_and_lab_shows_data_and_project(page, enclave_hub):
    hub, slugs = enclave_hub
    login(page, hub, "alice", "correct horse battery")
    page.wait_for_selector("#cirn-projects")
    row_open = page.locator(f"tr[data-project='{slugs['open']}']")
    row_held = page.locator(f"tr[data-project='{slugs['held']}']")
    assert "suspended" in row_held.inner_text()
    # The enclave's services are one click away: release requests and data-access applications.
    services = page.locator("#cirn-services").inner_text()
    assert "Egress review" in services and "Data-access applications" in services
    assert row_held.locator("a", has_text="Start").count() == 0
    row_open.locator("a", has_text="Start").click()
    page.wait_for_url(f"**/user/alice/{slugs['open']}/lab**", timeout=120_000)
    listing = page.locator(".jp-DirListing-content")
    listing.wait_for()
    # The default view is the project folder; go up to see the data link beside it.
    page.goto(f"{hub.url}/user/alice/{slugs['open']}/lab/tree/data")
    page.wait_for_selector(".jp-DirListing-item >> text=cohort", timeout=60_000)
    # Download is not offered anywhere in the file browser's context menu.
    page.locator(".jp-DirListing-item >> text=cohort").click(button="right")
    menu = page.locator(".lm-Menu").first
    menu.wait_for()
    assert "Download" not in menu.inner_text()


NOTEBOOK = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                       "source": ""}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_workspace_notebook_opens_runs_and_saves_without_a_token(page, enclave_hub):
    """JupyterLab works from its browser session alone (no token in its page config): a workspace
    notebook opens, runs in its kernel over the session's websocket, and saves; a data file does
    not open in the browser; and the hub offers no Token page."""
    import json
    import os
    import time

    from cirn.hub.spawner import CONTAINER_UID

    hub, slugs = enclave_hub
    slug = slugs["open"]
    workspace = hub_enclave_workspace(hub, slug)
    nb_path = workspace / "analysis.ipynb"
    nb_path.write_text(json.dumps(NOTEBOOK))
    os.chown(nb_path, CONTAINER_UID, CONTAINER_UID)
    login(page, hub, "alice", "correct horse battery")
    page.wait_for_selector("#cirn-projects")
    r = hub.start_server("alice", slug)  # 400: already running from the test before
    assert r.status_code in (201, 202, 400), r.text
    hub.wait_ready("alice", slug, timeout=120)
    assert page.locator("a[href$='/hub/token']").count() == 0
    page.goto(f"{hub.url}/user/alice/{slug}/lab/tree/project/analysis.ipynb")
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=120_000)
    output = run_in_cell(page, page.locator(".jp-Notebook .jp-Cell").first, "print(41 + 1)")
    assert output.first.inner_text().strip() == "42"
    page.keyboard.press("Control+s")
    deadline = time.time() + 60
    while "print(41 + 1)" not in nb_path.read_text():
        assert time.time() < deadline, "the notebook was not saved to the workspace"
        time.sleep(0.5)
    # A granted data file does not open in the browser: the server says to read it in a kernel.
    page.goto(f"{hub.url}/user/alice/{slug}/lab/tree/data/cohort/clinical.csv")
    page.wait_for_selector("text=Read it in a kernel", timeout=120_000)  # JupyterLab restores its layout first


def hub_enclave_workspace(hub, slug):
    from cirn.enclave import Enclave
    return Enclave.from_env({"CIRN_HOME": str(hub.home)}).state.project_workspace(slug)
