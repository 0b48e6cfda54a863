"""The egress service behind a real hub refuses an account the identity provider refused: its
browser session still holds a valid cookie, but it can neither see nor download anything."""

from __future__ import annotations

import pytest

from cirn import projects
from cirn.hub.auth import set_account
from cirn.hub.identity import clear_refusal, record_refusal

from .conftest import PASSWORD
from .test_container_submit import released

pytestmark = [pytest.mark.hub]


def test_a_refused_member_cannot_download_a_released_package(world):
    with world.enclave.db.session() as s:
        set_account(s, "test", "ann", PASSWORD, groups=["researchers"])
        projects.add_member(s, "test", world.alpha, "ann")
    ann = world.client("ann")
    rid = released(world, {"refused/summary.txt": "mean age 61\n"})
    assert ann.http.get(f"{ann.base}api/requests/{rid}/package", timeout=60).status_code == 200
    with world.enclave.db.session() as s:
        record_refusal(s, "ann", "the identity provider refused the refresh token (HTTP 400)")
    try:
        # The service trusts its cached login for up to a minute (HubOAuth's cache), and the hub's
        # sweep deletes ann's tokens within seconds: within that minute the desk refuses her itself.
        for path in (f"api/requests/{rid}/package", f"requests/{rid}/package", "api/me", f"api/requests/{rid}"):
            r = ann.http.get(ann.base + path, timeout=60, headers={"Accept": "application/json"})
            assert r.status_code == 403, (path, r.status_code, r.text[:200])
            assert "identity provider no longer accepts the account 'ann'" in r.json()["error"]
    finally:
        with world.enclave.db.session() as s:
            clear_refusal(s, "ann")
