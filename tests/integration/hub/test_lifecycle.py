"""Server lifecycle against a real hub: the reconciler stops what is no longer allowed, and a hub
restart leaves running servers running and reachable."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from cirn import projects

from cirn.hub.harness import browser_session, container_of

pytestmark = [pytest.mark.docker, pytest.mark.hub]


def wait_stopped(hub, user, server, timeout=60) -> float:
    start = time.time()
    while time.time() - start < timeout:
        if hub.server_model(user, server) is None:
            return time.time() - start
        time.sleep(1)
    raise AssertionError(f"{user}/{server} still running after {timeout}s:\n{hub.log_tail()}")


@pytest.mark.parametrize("change", ["suspend", "close", "expire", "remove-member"])
def test_reconciler_stops_servers_no_longer_allowed(change, world, hub, docker_client):
    user = f"r{change[:3]}"
    hub.create_user(user)
    slug = world.project(f"rec-{change}", [user], {"cohort": {"a.csv": "x\n1\n"}})
    assert hub.start_server(user, slug).status_code in (201, 202)
    container = container_of(docker_client, slug, user)
    with world.session() as s:
        if change in ("suspend", "close"):
            projects.change_status(s, "test", slug, change)
        elif change == "expire":
            projects.get_project(s, slug).expires = dt.date.today() - dt.timedelta(days=1)
        else:
            projects.remove_member(s, "test", slug, user)
    took = wait_stopped(hub, user, slug, timeout=60)
    assert took < 60
    deadline = time.time() + 30
    while time.time() < deadline and docker_client.containers.list(filters={"id": container.id}):
        time.sleep(0.5)
    assert not docker_client.containers.list(filters={"id": container.id})
    with world.session() as s:
        from cirn.models import AuditEvent
        events = s.query(AuditEvent).filter(AuditEvent.action == "server.stopped",
                                            AuditEvent.subject == f"{user}/{slug}").all()
    assert events, "the reconciler's stop was not audited"


def test_servers_survive_a_hub_restart(world, hub, docker_client):
    user = "restarter"
    hub.create_user(user)
    slug = world.project("restart", [user], {"cohort": {"a.csv": "x\n1\n"}})
    assert hub.start_server(user, slug).status_code in (201, 202)
    before = container_of(docker_client, slug, user).id
    browser = browser_session(hub, world.enclave, user)
    url = f"{browser.open_server(user, slug)}/api/status"
    assert browser.get(url).status_code == 200
    hub.stop(kill_proxy=False)
    # While the hub is down the proxy still routes to the running server.
    assert container_of(docker_client, slug, user).id == before
    hub.start()
    model = hub.wait_ready(user, slug, timeout=30)
    assert model["ready"]
    assert container_of(docker_client, slug, user).id == before
    # The browser session (hub cookie and the server's OAuth cookie) outlives the restart.
    assert browser.get(url).status_code == 200


@pytest.mark.parametrize("change", ["revoke", "rebuild"])
def test_reconciler_stops_servers_whose_data_changed(change, world, hub, docker_client):
    """A bind mount pins the old folder: revoked or rebuilt data must not stay visible."""
    import shutil
    user = f"d{change[:3]}"
    hub.create_user(user)
    slug = world.project(f"data-{change}", [user], {"cohort": {"a.csv": "x\n1\n"}, "extra": {"b.csv": "y\n2\n"}})
    assert hub.start_server(user, slug).status_code in (201, 202)
    folder = world.enclave.state.project_data(slug) / "extra"
    if change == "revoke":
        with world.session() as s:
            projects.revoke(s, "test", slug, "extra")
        folder.chmod(0o755)
        shutil.rmtree(folder)
    else:  # an extract rebuilt (e.g. after a consent withdrawal) is swapped in as a new folder
        new = folder.with_name(".new-extra")
        new.mkdir()
        (new / "b.csv").write_text("y\n")
        old = folder.with_name(".old-extra")
        folder.rename(old)
        new.rename(folder)
    wait_stopped(hub, user, slug, timeout=60)
    with world.session() as s:
        from cirn.models import AuditEvent
        event = s.query(AuditEvent).filter(AuditEvent.action == "server.stopped",
                                           AuditEvent.subject == f"{user}/{slug}").one()
    assert "data changed" in event.details
    # Started again, the server sees the current data.
    assert hub.start_server(user, slug).status_code in (201, 202)
    from cirn.hub.harness import exec_py
    rc, out = exec_py(container_of(docker_client, slug, user), "import os; print(sorted(os.listdir('/data')))")
    assert out.strip() == ("['cohort']" if change == "revoke" else "['cohort', 'extra']")
