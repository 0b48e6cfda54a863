"""An account the identity provider refused at refresh: recorded, its servers stopped by the
reconciler, cleared at the next successful login; and the OIDC settings' checks."""

from __future__ import annotations

import datetime as dt

import pytest

from cirn import projects
from cirn.hub.identity import clear_refusal, record_refusal, refused_accounts
from cirn.hub.login import LoginConfigError, OIDCSettings, hub_groups
from cirn.hub.reconciler import RunningServer, servers_to_stop


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
