"""The reconciler against a hub that pages its user list in twos: servers past the first page
are seen and stopped too."""

from __future__ import annotations

import time

import pytest

from cirn import projects
from cirn.hub.harness import new_hub, remove_test_objects
from cirn.hub.reconciler import HubAPI, RunningServer

pytestmark = [pytest.mark.docker, pytest.mark.hub]

PAGES_OF_TWO = "c.JupyterHub.api_page_default_limit = 2\nc.JupyterHub.api_page_max_limit = 2\n"


@pytest.fixture(scope="module")
def paged_hub(world, docker_client):
    h = new_hub(world.enclave.state.root, reconcile_interval=3, extra_config=PAGES_OF_TWO)
    h.start()
    yield h
    h.stop()
    remove_test_objects(docker_client, world.prefix)


def test_reconciler_follows_the_hubs_pages(world, paged_hub, docker_client):
    hub = paged_hub
    users = [f"pg{i}" for i in range(5)]
    slug = world.project("paged", users, {"cohort": {"a.csv": "x\n1\n"}})
    for user in users:
        hub.create_user(user)
        assert hub.start_server(user, slug).status_code in (201, 202)
    seen = set(HubAPI(hub.api, hub.token).running_servers())
    assert seen >= {RunningServer(u, slug) for u in users}  # 5 users: three pages of two
    with world.session() as s:
        projects.change_status(s, "test", slug, "suspend")
    deadline = time.time() + 60
    while time.time() < deadline and any(hub.server_model(u, slug) for u in users):
        time.sleep(1)
    left = [u for u in users if hub.server_model(u, slug)]
    assert not left, f"still running after 60 s: {left}\n{hub.log_tail()}"
