"""A real hub (with the meter service and reconciler) and a browser-like session into project servers."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from cirn.hub.auth import set_account
from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects

from tests.loops import LoopThread

PASSWORD = "correct horse battery"
# The tabs' websockets live in a loop of their own: a browser test earlier in the same process leaves
# Playwright's loop running in the main thread.
LOOP = LoopThread()


class Browser:
    """What a researcher's browser does: hub login, the server's OAuth, kernels over websockets."""

    def __init__(self, hub, user: str, project: str | None = None):
        self.hub, self.user, self.project = hub, user, project
        self.http = requests.Session()
        r = self.http.get(f"{hub.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = self.http.post(f"{hub.url}/hub/login", data={"username": user, "password": PASSWORD, "_xsrf": xsrf},
                           timeout=30)
        assert r.status_code == 200, r.text[:300]
        if project:
            r = self.http.get(self.base + "lab", timeout=60)  # OAuth with the server; sets its _xsrf cookie
            assert r.status_code == 200 and r.url.startswith(self.base), (r.status_code, r.url)

    @property
    def base(self) -> str:
        return f"{self.hub.url}/user/{self.user}/{self.project}/"

    def xsrf(self) -> str:
        """The server's own XSRF cookie (the hub has another, on /hub/)."""
        path = f"/user/{self.user}/{self.project}/"
        return next(c.value for c in self.http.cookies if c.name == "_xsrf" and c.path == path)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, self.base + path, headers={"X-XSRFToken": self.xsrf()}, timeout=60, **kw)

    def new_kernel(self) -> str:
        r = self.api("POST", "api/kernels", json={"name": "python3"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def counts(self) -> dict:
        r = self.api("GET", "cirn/meter")
        assert r.status_code == 200, r.text
        return r.json()

    def tab(self, kernel: str) -> "Tab":
        return Tab(self, kernel)


class Tab:
    """One browser tab's websocket to a kernel."""

    def __init__(self, browser: Browser, kernel: str):
        self.browser = browser
        url = browser.base.replace("http://", "ws://") + f"api/kernels/{kernel}/channels?_xsrf={browser.xsrf()}"
        cookies = "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies)
        self.session = uuid.uuid4().hex
        self.closed = False
        self.errors: list[str] = []  # a stopped server interrupts its kernels: KeyboardInterrupt
        self.conn = LOOP.run(lambda: websocket_connect(HTTPRequest(
            url, headers={"Cookie": cookies, "X-XSRFToken": browser.xsrf()}), max_message_size=1 << 30))

    def execute(self, code: str, timeout: float = 300) -> int:
        """Run code; returns the bytes of stream output this tab received."""
        return self.receive(self.send(code), timeout)

    def send(self, code: str) -> str:
        msg_id = uuid.uuid4().hex
        msg = {"header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                          "username": self.browser.user, "version": "5.3"},
               "parent_header": {}, "metadata": {}, "channel": "shell",
               "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                           "allow_stdin": False}}
        LOOP.run(lambda: self.conn.write_message(json.dumps(msg)))
        return msg_id

    def receive(self, msg_id: str, timeout: float = 300) -> int:
        """Read this tab's websocket until the kernel is idle after `msg_id`; the stream bytes seen."""
        return LOOP.run(lambda: self.drain(msg_id), timeout=timeout)

    async def drain(self, msg_id: str) -> int:
        got, idle = 0, False
        while not idle:
            raw = await self.conn.read_message()
            if raw is None:  # the server was stopped
                self.closed = True
                return got
            m = json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                got += len(m["content"]["text"])
            elif m["msg_type"] == "error":
                self.errors.append(m["content"]["ename"])
            idle = m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
        return got

    def close(self) -> None:
        LOOP.loop.call_soon_threadsafe(self.conn.close)


class World:
    def __init__(self, enclave, hub, prefix):
        self.enclave, self.hub, self.prefix = enclave, hub, prefix

    def project(self, name: str, members: list[str]) -> str:
        slug = f"{self.prefix}-{name}"
        add_project(self.enclave, slug, f"Meter {name}", members)
        with self.enclave.db.session() as s:
            for m in members:
                set_account(s, "test", m, PASSWORD, groups=["researchers"])
        for m in members:
            self.hub.create_user(m)
        return slug

    def admin(self, name: str = "meteradmin") -> Browser:
        with self.enclave.db.session() as s:
            set_account(s, "test", name, PASSWORD, is_admin=True, groups=["enclave-admins"])
        return Browser(self.hub, name)

    def wait(self, what, timeout: float = 90, step: float = 0.5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = what()
            if value:
                return value
            time.sleep(step)
        raise AssertionError(f"timed out waiting for {what.__name__}:\n{self.hub.log_tail()}")


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    enclave = fresh_enclave(tmp_path_factory.mktemp("meter-home"))
    prefix = "m" + uuid.uuid4().hex[:6]
    hub = new_hub(enclave.state.root, reconcile_interval=5)
    hub.start()
    yield World(enclave, hub, prefix)
    hub.stop()
    remove_test_objects(docker_client, prefix)
