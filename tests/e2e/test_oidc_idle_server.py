"""An account disabled at the identity provider while its server runs and its owner is away: the
hub checks users with running servers on its own (no request from them needed), records the
refusal, and the reconciler stops the server. A colleague still enabled keeps hers. Through the
real OpenID provider (npm oidc-provider) and a real browser login."""

from __future__ import annotations

import time
import uuid

import pytest

from cirn.hub.identity import refused_accounts
from cirn.models import AuditEvent

from tests.e2e.oidc_idp import oidc_enclave, oidc_login

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]

USERS = {"alice": {"password": "alice-pw-9", "groups": ["researchers"]},
         "bea": {"password": "bea-pw-9", "groups": ["researchers"]}}
REFRESH_AGE = 4


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    slug = "i" + uuid.uuid4().hex[:6] + "-idle"
    home = tmp_path_factory.mktemp("cirn-oidc-idle")
    with oidc_enclave(home, docker_client, slug, "Idle servers", USERS, REFRESH_AGE) as (hub, idp, enclave):
        yield hub, idp, enclave, slug


def test_a_server_left_running_by_a_disabled_account_is_stopped_without_its_owner_coming_back(browser, world):
    hub, idp, enclave, slug = world
    pages = {}
    for name in USERS:
        page = browser.new_context().new_page()
        page.set_default_timeout(60_000)
        oidc_login(page, hub.url, name, USERS[name]["password"])
        page.wait_for_url(f"{hub.url}/hub/home")
        pages[name] = page
    # Both start the project's server, then go quiet: alice closes her browser altogether.
    for name in USERS:
        assert hub.start_server(name, slug, timeout=150).status_code in (201, 202)
        hub.wait_ready(name, slug, timeout=150)
    pages.pop("alice").context.close()

    idp.disable("alice")
    deadline = time.time() + 90
    while hub.server_model("alice", slug) is not None and time.time() < deadline:
        time.sleep(1)
    assert hub.server_model("alice", slug) is None, "the disabled account's server kept running\n" + hub.log_tail()
    with enclave.db.session() as s:
        assert "alice" in refused_accounts(s)
        stopped = s.query(AuditEvent).filter(AuditEvent.action == "server.stopped",
                                             AuditEvent.subject == f"alice/{slug}").one()
        assert "identity provider" in stopped.details

    # Several checks of bea's login went by meanwhile; her server runs and her session still works.
    assert (hub.server_model("bea", slug) or {}).get("ready")
    with enclave.db.session() as s:
        assert "bea" not in refused_accounts(s)
    bea = pages["bea"]
    bea.goto(f"{hub.url}/hub/home")
    assert bea.url == f"{hub.url}/hub/home"
    assert bea.locator(f"tr[data-project='{slug}']").is_visible()
    bea.context.close()
