"""Against a real hub: an account the identity provider refused cannot start a server and loses its
tokens, and API tokens live no longer than the policy's hub.admin_token_max_days."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from cirn.hub.identity import clear_refusal, record_refusal

pytestmark = [pytest.mark.docker, pytest.mark.hub]

DAY = 86400


def test_a_refused_account_cannot_start_a_server(world, hub, docker_client):
    hub.create_user("rhea")
    slug = world.project("refused-spawn", ["rhea"], {"cohort": {"a.csv": "x\n1\n"}})
    with world.session() as s:
        record_refusal(s, "rhea", "the identity provider refused the refresh token (HTTP 400)")
    try:
        r = hub.start_server("rhea", slug)
        assert r.status_code == 403, (r.status_code, r.text)
        assert "identity provider no longer accepts the account 'rhea'" in r.json()["message"]
        assert not docker_client.containers.list(all=True, filters={"label": f"org.cirn.project={slug}"})
    finally:
        with world.session() as s:
            clear_refusal(s, "rhea")


def test_a_refused_accounts_tokens_are_deleted(world, hub):
    hub.create_user("rory")
    token = hub.user_token("rory")
    assert requests.get(f"{hub.api}/user", headers=hub.headers(token), timeout=10).status_code == 200
    with world.session() as s:
        record_refusal(s, "rory", "the identity provider refused the refresh token (HTTP 400)")
    deadline = time.time() + 30  # the sweep runs every reconcile interval (3 s here)
    while time.time() < deadline:
        if requests.get(f"{hub.api}/user", headers=hub.headers(token), timeout=10).status_code == 403:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"rory's token still works 30 s after the refusal:\n{hub.log_tail()}")
    listed = requests.get(f"{hub.api}/users/rory/tokens", headers=hub.headers(), timeout=10).json()
    assert listed["api_tokens"] == [] and listed.get("oauth_tokens", []) == []


def test_api_tokens_cannot_outlive_the_policys_maximum(world, hub):
    hub.create_user("tina")
    url = f"{hub.api}/users/tina/tokens"
    r = requests.post(url, headers=hub.headers(), json={"note": "too long", "expires_in": 31 * DAY}, timeout=10)
    assert r.status_code == 400 and "must not exceed" in r.text, (r.status_code, r.text)
    # asked without an expiry, a token gets the longest one allowed (JupyterHub's own rule)
    now = dt.datetime.now(dt.timezone.utc)
    for body, days in (({"note": "forever"}, 30), ({"note": "a week", "expires_in": 7 * DAY}, 7)):
        r = requests.post(url, headers=hub.headers(), json=body, timeout=10)
        assert r.status_code in (200, 201), r.text
        expires = dt.datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
        assert expires - now <= dt.timedelta(days=days, minutes=1), (body, r.json()["expires_at"])


def test_older_tokens_without_an_expiry_are_shortened(world, hub):
    """A token made before the limit (or by `jupyterhub token`, which ignores it) gets an expiry."""
    from jupyterhub import orm

    hub.create_user("otto")
    db = orm.new_session_factory(f"sqlite:///{hub.home / 'hub' / 'jupyterhub.sqlite'}")()
    try:
        user = orm.User.find(db, "otto")
        user.new_api_token(note="made without a limit")  # what `jupyterhub token otto` does
        db.commit()
    finally:
        db.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        tokens = requests.get(f"{hub.api}/users/otto/tokens", headers=hub.headers(), timeout=10).json()["api_tokens"]
        old = [t for t in tokens if t["note"] == "made without a limit"]
        assert len(old) == 1
        if old[0]["expires_at"]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the token still has no expiry:\n{hub.log_tail()}")
    created = dt.datetime.fromisoformat(old[0]["created"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(old[0]["expires_at"].replace("Z", "+00:00"))
    assert expires - created <= dt.timedelta(days=30)
