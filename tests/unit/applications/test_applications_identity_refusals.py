"""An account the identity provider refused at refresh: recorded, its servers stopped by the
reconciler, cleared at the next successful login; and the OIDC settings' checks."""

from __future__ import annotations

import datetime as dt

import pytest

from cirn import projects
from cirn.hub.identity import clear_refusal, record_refusal, refused_accounts
from cirn.hub.login import LoginConfigError, OIDCSettings, hub_groups
from cirn.hub.reconciler import RunningServer, servers_to_stop

from tests.loops import in_own_loop


def test_reconciler_stops_servers_of_refused_accounts(enclave):
    with enclave.db.session() as s:
        projects.create_project(s, "t", "study-x", "X", dt.date.today() + dt.timedelta(days=9))
        for u in ("alice", "bob"):
            projects.add_member(s, "t", "study-x", u)
        record_refusal(s, "bob", "refresh refused")
        record_refusal(s, "bob", "again")  # recorded once
    running = [RunningServer("alice", "study-x"), RunningServer("bob", "study-x")]
    stop = servers_to_stop(enclave, running, dt.date.today())
    assert stop == [(RunningServer("bob", "study-x"), "the identity provider no longer accepts this account")]
    with enclave.db.session() as s:
        clear_refusal(s, "bob")
        assert refused_accounts(s) == set()
    assert servers_to_stop(enclave, running, dt.date.today()) == []


def test_group_claims_map_to_hub_groups_only():
    assert hub_groups(["researchers", "/research-committee", "staff", "/org/x"], {}) == {"researchers",
                                                                                       "research-committee"}
    assert hub_groups(["cirn-admins"], {"cirn-admins": "enclave-admins"}) == {"enclave-admins"}
    assert hub_groups(None, {}) == set()


def test_oidc_settings_name_what_is_missing():
    with pytest.raises(LoginConfigError, match="CIRN_OIDC_ISSUER"):
        OIDCSettings.from_env({})
    base = {"CIRN_OIDC_ISSUER": "https://idp.example/realms/cirn/", "CIRN_OIDC_CLIENT_ID": "hub",
            "CIRN_OIDC_CLIENT_SECRET": "s"}
    s = OIDCSettings.from_env(base, "10.0.0.5", 443)
    assert s.issuer == "https://idp.example/realms/cirn" and s.callback_url == "http://10.0.0.5:443/hub/oauth_callback"
    with pytest.raises(LoginConfigError, match="idp-group=hub-group"):
        OIDCSettings.from_env({**base, "CIRN_OIDC_GROUP_MAP": "admins=root"})


def _settings(enclave, authenticator, ip="127.0.0.1", env=None):
    from cirn.enclave import Enclave
    from cirn.hub.config import HubSettings

    e = Enclave(enclave.state, None, {**enclave.environ, **(env or {})})
    return HubSettings(enclave=e, ip=ip, authenticator=authenticator)


def test_demo_login_refuses_a_non_loopback_address_and_oidc_needs_its_settings(enclave):
    from traitlets.config import Config

    from cirn.hub.auth import LoopbackOnly
    from cirn.hub.login import configure_login

    with pytest.raises(LoopbackOnly):
        configure_login(Config(), _settings(enclave, "demo", ip="0.0.0.0"))
    with pytest.raises(LoginConfigError, match="CIRN_OIDC_ISSUER"):
        configure_login(Config(), _settings(enclave, "oidc", ip="0.0.0.0"))


def test_oidc_configuration_maps_discovery_groups_refresh_and_logout(enclave):
    from traitlets.config import Config

    from cirn.hub.login import EnclaveOIDCAuthenticator, configure_oidc

    env = {"CIRN_OIDC_ISSUER": "https://idp.example", "CIRN_OIDC_CLIENT_ID": "hub", "CIRN_OIDC_CLIENT_SECRET": "x",
           "CIRN_OIDC_CALLBACK_URL": "https://cirn.example/hub/oauth_callback", "CIRN_AUTH_REFRESH_AGE": "60"}
    s = _settings(enclave, "oidc", ip="0.0.0.0", env=env)
    meta = {"authorization_endpoint": "https://idp.example/auth", "token_endpoint": "https://idp.example/token",
            "userinfo_endpoint": "https://idp.example/me", "end_session_endpoint": "https://idp.example/logout"}
    c = Config()
    configure_oidc(c, s, OIDCSettings.from_env(env), meta)
    a = c.EnclaveOIDCAuthenticator
    assert c.JupyterHub.authenticator_class is EnclaveOIDCAuthenticator
    assert (a.token_url, a.userdata_url, a.manage_groups, a.enable_auth_state) == (
        "https://idp.example/token", "https://idp.example/me", True, True)
    assert a.auth_refresh_age == 60 and a.refresh_pre_spawn is True
    assert a.auth_state_groups_key({"oauth_user": {"groups": ["/researchers", "other"]}}) == ["researchers"]
    assert a.logout_redirect_url.startswith("https://idp.example/logout?client_id=hub&post_logout_redirect_uri=")
    assert a.admin_groups == {"enclave-admins"}
    assert len(c.CryptKeeper["keys"][0]) == 64  # (.keys is the dict method on a Config)


def test_refreshes_of_one_user_at_the_same_time_share_one_provider_request(monkeypatch):
    # The sweep and a request refreshing the same user together must not both send its refresh
    # token: a provider that rotates refresh tokens would refuse the second and end the session.
    import asyncio
    from types import SimpleNamespace

    from oauthenticator.generic import GenericOAuthenticator

    from cirn.hub.login import EnclaveOIDCAuthenticator

    sent = []

    async def provider_refresh(self, user, handler=None, **kwargs):
        sent.append(user.name)
        await asyncio.sleep(0.05)
        return {"name": user.name, "auth_state": {"refresh_token": f"rotated-{len(sent)}"}}
    monkeypatch.setattr(GenericOAuthenticator, "refresh_user", provider_refresh)
    authenticator = EnclaveOIDCAuthenticator()
    saved = {}

    def account(name):
        async def save_auth_state(state):
            saved[name] = state
        return SimpleNamespace(name=name, save_auth_state=save_auth_state)
    alice, bob = account("alice"), account("bob")

    async def together():
        return await asyncio.gather(authenticator.refresh_user(alice), authenticator.refresh_user(alice),
                                    authenticator.refresh_user(bob))
    first, second, other = in_own_loop(together())
    assert sorted(sent) == ["alice", "bob"]
    assert first == second and first is not second  # each caller may change its own copy
    assert other["name"] == "bob"
    # The rotated token is stored when the shared refresh ends, before any next refresh reads it.
    assert saved["alice"] == first["auth_state"] and saved["bob"] == other["auth_state"]
    in_own_loop(authenticator.refresh_user(alice))  # once answered, the next refresh asks again
    assert sent.count("alice") == 2
