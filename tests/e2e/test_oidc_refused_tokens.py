"""An account disabled at the identity provider loses what its tokens could do: a request made with
its API token is refused as soon as the hub checks with the provider (not let through on stale
login data), the refusal is recorded, the account's tokens are deleted, and a spawn asked for it
with an admin's token is refused. Through the real OpenID provider and a browser login."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from cirn.hub.identity import refused_accounts

from tests.e2e.oidc_idp import oidc_enclave, oidc_login

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.hub]

USERS = {"alice": {"password": "alice-pw-9", "groups": ["researchers"]}}
REFRESH_AGE = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    slug = "k" + uuid.uuid4().hex[:6] + "-tok"
    home = tmp_path_factory.mktemp("cirn-oidc-tokens")
    with oidc_enclave(home, docker_client, slug, "Tokens of refused accounts", USERS, REFRESH_AGE) as (hub, idp, enclave):
        yield hub, idp, enclave, slug


def test_a_disabled_accounts_token_stops_working_and_its_spawns_are_refused(browser, world):
    hub, idp, enclave, slug = world
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    oidc_login(page, hub.url, "alice", USERS["alice"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    page.context.close()
    token = hub.user_token("alice")
    assert requests.get(f"{hub.api}/user", headers=hub.headers(token), timeout=30).status_code == 200

    idp.disable("alice")
    time.sleep(REFRESH_AGE + 3)  # the access token (2 s) has expired and the hub's check is due
    r = requests.get(f"{hub.api}/user", headers=hub.headers(token), timeout=30)
    assert r.status_code == 403, (r.status_code, r.text, hub.log_tail())
    deadline = time.time() + 30
    while time.time() < deadline:
        with enclave.db.session() as s:
            if "alice" in refused_accounts(s):
                break
        time.sleep(0.5)
    listed = requests.get(f"{hub.api}/users/alice/tokens", headers=hub.headers(), timeout=30).json()
    assert listed["api_tokens"] == [], listed
    # An admin's spawn for her: the hub's strict pre-spawn check refuses first (the spawner would too).
    r = hub.start_server("alice", slug)
    assert r.status_code == 403, (r.status_code, r.text)
    assert hub.server_model("alice", slug) is None
