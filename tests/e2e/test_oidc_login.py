"""OpenID Connect login through a real provider (npm oidc-provider) in a real browser: a
researcher signs in at the provider and lands on the hub with the provider's groups; logout ends
the hub session; an account disabled at the provider loses access at its next refresh."""

from __future__ import annotations

import time

import pytest
import requests

from cirn.enclave import Enclave
from cirn.hub.harness import fresh_enclave, new_hub

from tests.e2e.oidc_idp import OIDCProvider
from tests.e2e.oidc_idp import oidc_login as _oidc_login

pytestmark = [pytest.mark.browser, pytest.mark.hub]

USERS = {
    "alice": {"password": "alice-pass-1", "name": "Alice Kim", "groups": ["researchers", "idp-internal"]},
    "dana": {"password": "dana-pass-1", "name": "Dana Lee", "groups": ["/distribution-committee"]},
    "bob": {"password": "bob-pass-1", "name": "Bob Park", "groups": ["researchers"]},
    "nogroup": {"password": "nogroup-pass-1", "groups": []},
}
REFRESH_AGE = 4


@pytest.fixture(scope="module")
def oidc_hub(tmp_path_factory):
    home = tmp_path_factory.mktemp("cirn-oidc")
    fresh_enclave(home)
    hub = new_hub(home)
    idp = OIDCProvider(home / "idp", {k: dict(v) for k, v in USERS.items()},
                       redirect_uris=[f"{hub.url}/hub/oauth_callback"],
                       post_logout_redirect_uris=[f"{hub.url}/hub/login"], access_token_ttl=2)
    idp.start()
    hub.env = idp.hub_env(CIRN_AUTH_REFRESH_AGE=str(REFRESH_AGE))
    try:
        hub.start()
    except Exception:
        idp.stop()
        raise
    yield hub, idp
    hub.stop()
    idp.stop()


def oidc_login(page, hub, user, password):
    _oidc_login(page, hub.url, user, password)


def hub_user(hub, name):
    r = requests.get(f"{hub.api}/users/{name}", headers=hub.headers(), timeout=10)
    return r.json() if r.ok else None


def test_researcher_logs_in_through_the_provider_and_lands_on_the_hub(page, oidc_hub):
    hub, _ = oidc_hub
    oidc_login(page, hub, "alice", USERS["alice"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    assert page.locator("h1", has_text="Your projects").is_visible()
    assert page.locator("#cirn-no-projects").is_visible()
    model = hub_user(hub, "alice")
    assert model["groups"] == ["researchers"]  # the provider's own groups do not become hub groups
    assert model["admin"] is False


def test_keycloak_style_group_paths_map_to_hub_groups(page, oidc_hub):
    hub, _ = oidc_hub
    oidc_login(page, hub, "dana", USERS["dana"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    assert hub_user(hub, "dana")["groups"] == ["distribution-committee"]


def test_wrong_password_is_refused_at_the_provider(page, oidc_hub):
    hub, idp = oidc_hub
    oidc_login(page, hub, "alice", "not-the-password")
    assert page.locator("#idp-error").inner_text() == "Invalid user name or password."
    assert page.url.startswith(idp.issuer)


def test_a_person_in_no_enclave_group_is_refused(page, oidc_hub):
    hub, _ = oidc_hub
    oidc_login(page, hub, "nogroup", USERS["nogroup"]["password"])
    page.wait_for_load_state()
    assert "/hub/home" not in page.url
    assert hub_user(hub, "nogroup") is None


def test_logout_ends_the_hub_session(page, oidc_hub):
    hub, idp = oidc_hub
    oidc_login(page, hub, "alice", USERS["alice"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    page.goto(f"{hub.url}/hub/logout")
    # The provider asks to confirm ending its own session too, then sends the browser back to the hub.
    page.wait_for_url(f"{idp.issuer}/**")
    page.locator("button[autofocus], button[type=submit]").first.click()
    page.wait_for_url(f"{hub.url}/hub/login**")
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_url(f"{hub.url}/hub/login**")
    assert page.get_by_text("Sign in with CIRN identity").is_visible()


def test_account_disabled_at_the_provider_loses_access_at_next_refresh(page, oidc_hub):
    hub, idp = oidc_hub
    oidc_login(page, hub, "bob", USERS["bob"]["password"])
    page.wait_for_url(f"{hub.url}/hub/home")
    page.goto(f"{hub.url}/hub/home")
    assert page.url == f"{hub.url}/hub/home"  # still in, before the provider is told
    idp.disable("bob")
    time.sleep(REFRESH_AGE + 1)
    page.goto(f"{hub.url}/hub/home")
    page.wait_for_load_state()
    assert "/hub/home" not in page.url, "a disabled account kept its hub session"
    from cirn.hub.identity import refused_accounts
    with Enclave.from_env({"CIRN_HOME": str(hub.home)}).db.session() as s:
        assert "bob" in refused_accounts(s)
