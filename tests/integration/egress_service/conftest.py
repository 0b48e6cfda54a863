"""A real hub running the egress service as a hub-managed service, two projects and six people.

People log in with the demo login (their groups, and so the reviewer scope, come with it) and
reach the service through the hub's OAuth, exactly as a browser does; `Client.api` sends the
OAuth cookie and the XSRF token the service's pages put in their forms.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import uuid

import pytest
import requests

from cirn import projects
from cirn.datasets.identifier_list import EGRESS_IDENTIFIERS
from cirn.enclave import Enclave
from cirn.hub.auth import set_account
from cirn.hub.harness import new_hub

PASSWORD = "correct horse battery"
PLANTED_ID = "P-7K2M9QXW4TBN3HZD"  # a pseudonym on both projects' identifier lists
PEOPLE = {"alice": ["researchers"], "amy": ["researchers"], "bob": ["researchers"],
          "rev1": ["egress-reviewers"], "rev2": ["egress-reviewers"],
          "rita": ["egress-reviewers", "researchers"]}


class Client:
    """One person's browser session with the service (cookies, XSRF token)."""

    def __init__(self, hub, name: str):
        self.hub, self.name = hub, name
        self.http = requests.Session()
        self.base = f"{hub.url}/services/egress/"
        r = self.http.get(f"{hub.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = self.http.post(f"{hub.url}/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": xsrf},
                           timeout=30)
        assert r.status_code == 200, r.text[:300]
        r = self.http.get(self.base, timeout=60)  # OAuth dance with the service
        assert r.status_code == 200 and r.url.startswith(self.base), (r.status_code, r.url)

    def form_xsrf(self, path: str) -> str:
        r = self.http.get(self.base + path, timeout=30)
        return re.search(r'<meta name="xsrf-token" content="([^"]+)"', r.text).group(1)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if method.upper() != "GET":
            headers["X-XSRFToken"] = self.form_xsrf("")
        return self.http.request(method, self.base + "api/" + path, headers=headers, timeout=60, **kw)

    def post_form(self, path: str, data: dict, xsrf: bool = True) -> requests.Response:
        data = dict(data)
        if xsrf:
            data["_xsrf"] = self.form_xsrf("")
        return self.http.post(self.base + path, data=data, timeout=60)


class World:
    def __init__(self, enclave, hub, prefix):
        self.enclave, self.hub, self.prefix = enclave, hub, prefix
        self.alpha, self.beta = f"{prefix}-alpha", f"{prefix}-beta"
        self._clients: dict[str, Client] = {}

    def client(self, name: str) -> Client:
        if name not in self._clients:
            self._clients[name] = Client(self.hub, name)
        return self._clients[name]

    def workspace(self, slug=None):
        return self.enclave.state.project_workspace(slug or self.alpha)

    def write(self, name: str, text: str, slug=None):
        path = self.workspace(slug) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def token_api(self, token: str, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.hub.url}/services/egress/api/{path}",
                                headers={"Authorization": f"token {token}"}, timeout=60, **kw)

    def wait_state(self, client: Client, rid: int, not_state: str = "submitted", timeout: float = 90) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = client.api("GET", f"requests/{rid}")
            if r.status_code == 200 and r.json()["state"] != not_state:
                return r.json()
            time.sleep(0.5)
        raise AssertionError(f"request {rid} still {not_state}:\n{self.hub.log_tail()}")

    def count_requests(self) -> int:
        from sqlalchemy import func, select
        from cirn.egress.review.models import ReleaseRequest
        with self.enclave.db.session() as s:
            return s.execute(select(func.count()).select_from(ReleaseRequest)).scalar()

    def store_files(self) -> set:
        return {p.name for p in self.enclave.state.egress_store.glob("??/*")}


def wait_service(hub, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(f"{hub.url}/services/egress/api/openapi.json", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"egress service did not answer:\n{hub.log_tail()}")


def make_world(home, prefix) -> World:
    home.chmod(0o755)
    enclave = Enclave.from_env({"CIRN_HOME": str(home)})
    enclave.init()
    with enclave.db.session() as s:
        for name, groups in PEOPLE.items():
            set_account(s, "test", name, PASSWORD, groups=groups)
        for slug, members in ((f"{prefix}-alpha", ["alice", "amy"]), (f"{prefix}-beta", ["bob", "rita"])):
            projects.create_project(s, "test", slug, slug, dt.date.today() + dt.timedelta(days=30))
            for m in members:
                projects.add_member(s, "test", slug, m)
    for slug in (f"{prefix}-alpha", f"{prefix}-beta"):
        ws = enclave.state.project_workspace(slug)
        ws.mkdir(parents=True)
        os.chown(ws, 1000, 1000)
        # as provisioning leaves it; a project without one has every file held for review
        (enclave.state.project_dir(slug) / EGRESS_IDENTIFIERS).write_text(f"{PLANTED_ID}\n")
    hub = new_hub(home)
    return World(enclave, hub, prefix)


@pytest.fixture(scope="package")
def world(tmp_path_factory):
    """One hub for the whole package: starting one takes most of a minute."""
    w = make_world(tmp_path_factory.mktemp("egress-home"), "x" + uuid.uuid4().hex[:6])
    w.hub.start()
    wait_service(w.hub)
    yield w
    w.hub.stop()
