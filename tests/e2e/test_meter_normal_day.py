"""A session of ordinary analysis in a real browser stays well under the volume meter's warning level.

This is also how the policy's defaults were measured: the researcher logs in, starts the project,
JupyterLab loads, a notebook reads the clinical table and runs a head, a describe, counts, a group
mean and a histogram, is saved, and JupyterLab is loaded a second time; the meter's report for the
day is then read from the database and printed.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from cirn.hub.auth import set_account
from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects
from cirn.hub.spawner import CONTAINER_UID
from cirn.models import MeterUsage

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]

CELLS = [
    "import pandas as pd\ndf = pd.read_csv('/data/cohort/clinical.csv')\ndf.head()",
    "df.describe()",
    "df['sex'].value_counts()",
    "df.groupby('region')['age'].agg(['count', 'mean']).round(1)",
    "import matplotlib.pyplot as plt\n%matplotlib inline\ndf['age'].plot.hist(bins=20)\nplt.title('age')\nplt.show()",
    "print('analysis-done')",
]


def clinical_csv(n=500) -> str:
    rows = ["participant,age,sex,region"]
    rows += [f"P{i:05d},{20 + i % 60},{'FM'[i % 2]},{['Seoul', 'Busan', 'Daegu', 'Incheon'][i % 4]}" for i in range(n)]
    return "\n".join(rows) + "\n"


def notebook() -> str:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c} for c in CELLS]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                                    "language": "python"}},
                       "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def enclave_hub(tmp_path_factory, docker_client, images):
    enclave = fresh_enclave(tmp_path_factory.mktemp("cirn-meter-e2e"))
    prefix = "v" + uuid.uuid4().hex[:6]
    slug = f"{prefix}-study"
    with enclave.db.session() as s:
        set_account(s, "test", "alice", "correct horse battery", groups=["researchers"])
    ws = add_project(enclave, slug, "Study", ["alice"], extracts={"cohort": {"clinical.csv": clinical_csv()}})
    (ws / "analysis.ipynb").write_text(notebook())
    if os.geteuid() == 0:
        os.chown(ws / "analysis.ipynb", CONTAINER_UID, CONTAINER_UID)
    hub = new_hub(enclave.state.root)
    hub.start()
    yield enclave, hub, slug
    hub.stop()
    remove_test_objects(docker_client, prefix)


def test_a_session_of_analysis_stays_under_the_warning(page, enclave_hub):
    enclave, hub, slug = enclave_hub
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct horse battery")
    page.click("#login_submit")
    page.locator(f"tr[data-project='{slug}'] a", has_text="Start").click()
    page.wait_for_url(f"**/user/alice/{slug}/lab**", timeout=180_000)
    page.goto(f"{hub.url}/user/alice/{slug}/lab/tree/project/analysis.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    time.sleep(3)
    select = page.locator(".jp-Dialog button", has_text="Select")
    if select.count():  # JupyterLab asks for the kernel when it cannot match the notebook's
        select.first.click()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_selector(".jp-OutputArea-output >> text=analysis-done", timeout=180_000)
    assert page.locator(".jp-OutputArea-output img").count() >= 1  # the histogram came back
    page.keyboard.press("Control+s")
    time.sleep(2)
    page.goto(f"{hub.url}/user/alice/{slug}/lab")  # a second load of JupyterLab in the day
    page.wait_for_selector(".jp-DirListing-content", timeout=120_000)
    done = time.time()

    # Wait for a report made after the session (reports come every report_interval seconds).
    time.sleep(max(0.0, enclave.policy.meter.report_interval + 5 - (time.time() - done)))
    with enclave.db.session() as s:
        row = s.query(MeterUsage).filter_by(username="alice", project=slug).one_or_none()
    assert row is not None, hub.log_tail()
    sent = json.loads(row.sent)
    print(f"\nnormal session: counted {row.counted} bytes ({row.counted / 2**20:.2f} MiB); by kind {sent}; "
          f"warning {enclave.policy.meter.daily_warning_bytes}, limit {enclave.policy.meter.daily_limit_bytes}")
    assert row.counted < enclave.policy.meter.daily_warning_bytes
    assert sent.get("kernel", 0) > 0 and sent.get("http", 0) > 0  # the session itself was metered
