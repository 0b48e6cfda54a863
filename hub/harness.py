"""A real JupyterHub (with its proxy and reconciler) on loopback ports, for tests and benchmarks.

The hub runs from the project's own config (hub/jupyterhub_config.py's `configure`), plus a
test-only admin service whose token drives the REST API. Containers and networks the tests
create carry the test's project slugs and are removed by slug prefix at the end.
`fresh_enclave` and `add_project` set up the state such a hub serves, as an admin would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


def fresh_enclave(home: Path):
    """A new enclave in `home`; the folder is made readable by others, since the containers'
    user (not root) reads the extracts and workspaces mounted from it."""
    from cirn.enclave import Enclave
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    enclave = Enclave.from_env({"CIRN_HOME": str(home)})
    enclave.init()
    return enclave


def add_project(enclave, slug: str, title: str, members=(), *, actor: str = "test",
                extracts: dict[str, dict[str, str]] | None = None, expires: dt.date | None = None) -> Path:
    """A project with these members and its workspace (owned by the containers' user, who writes
    there); `extracts` grants each dataset (version "1") and writes its files as a read-only
    extract. Returns the workspace."""
    from cirn import projects
    with enclave.db.session() as s:
        projects.create_project(s, actor, slug, title, expires or dt.date.today() + dt.timedelta(days=30))
        for member in members:
            projects.add_member(s, actor, slug, member)
        for dataset in extracts or {}:
            projects.grant(s, actor, slug, dataset, "1")
    ws = enclave.state.create_workspace(slug)
    # provisioning writes the project's pseudonyms there; without the file the egress service
    # holds every file of the project for review (cirn.egress.review.identifier_list)
    ids = enclave.state.project_dir(slug) / "egress-identifiers.txt"
    if not ids.exists():
        ids.write_text("")
    for dataset, files in (extracts or {}).items():
        folder = enclave.state.project_data(slug) / dataset
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
            (folder / name).chmod(0o444)
        folder.chmod(0o555)
    return ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """
from cirn.hub.config import configure, settings_from_env
configure(c, settings_from_env())
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"],
    "scopes": ["admin:users", "admin:servers", "list:users", "read:users", "tokens", "access:servers"]}})
{extra}
"""


@dataclass
class Hub:
    home: Path
    port: int
    api_port: int
    proxy_api_port: int
    token: str
    egress_api_port: int = 0
    meter_api_port: int = 0
    extra_config: str = ""
    reconcile_interval: float = 3
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/hub/api"

    def headers(self, token: str | None = None) -> dict:
        return {"Authorization": f"token {token or self.token}"}

    def start(self) -> None:
        cfg = self.home / "test_jupyterhub_config.py"
        cfg.write_text(CONFIG.format(token=self.token, extra=self.extra_config))
        env = dict(os.environ)
        env.update({
            "CIRN_HOME": str(self.home), "CIRN_IP": "127.0.0.1", "CIRN_PORT": str(self.port),
            "CIRN_HUB_API_PORT": str(self.api_port), "CIRN_PROXY_API_PORT": str(self.proxy_api_port),
            "CIRN_EGRESS_API_PORT": str(self.egress_api_port),
            "CIRN_METER_API_PORT": str(self.meter_api_port),
            "CIRN_PROXY_COMMAND": str(REPO / "node_modules" / ".bin" / "configurable-http-proxy"),
            "CIRN_RECONCILE_INTERVAL": str(self.reconcile_interval),
            "PATH": f"{Path(sys.executable).parent}:{REPO / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}",
        })
        env.update(self.env)
        (self.home / "hub").mkdir(parents=True, exist_ok=True)
        self.log_path = self.home / "hub.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f", str(cfg)],
                                     cwd=self.home / "hub", env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.api}/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"hub did not answer within 180 s:\n{self.log_tail()}")

    def stop(self, kill_proxy: bool = True) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if kill_proxy:
            pid_file = self.home / "hub" / "proxy.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # REST helpers
    def create_user(self, name: str) -> None:
        r = requests.post(f"{self.api}/users/{name}", headers=self.headers(), timeout=10)
        assert r.status_code in (201, 409), r.text

    def user_token(self, name: str) -> str:
        r = requests.post(f"{self.api}/users/{name}/tokens", headers=self.headers(),
                          json={"note": "test", "expires_in": 3600}, timeout=10)
        assert r.status_code in (200, 201), r.text
        return r.json()["token"]

    def start_server(self, user: str, server: str, timeout: float = 90) -> requests.Response:
        """POST the start request; wait until ready if it was accepted. Returns the first response."""
        r = requests.post(f"{self.api}/users/{user}/servers/{server}", headers=self.headers(), timeout=timeout)
        if r.status_code == 202:
            self.wait_ready(user, server, timeout)
        return r

    def server_model(self, user: str, server: str) -> dict | None:
        r = requests.get(f"{self.api}/users/{user}", headers=self.headers(), timeout=10)
        r.raise_for_status()
        return (r.json().get("servers") or {}).get(server)

    def wait_ready(self, user: str, server: str, timeout: float = 90) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            model = self.server_model(user, server)
            if model and model.get("ready"):
                return model
            if model is None and time.time() > deadline - timeout + 5:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{user}/{server} not ready in {timeout}s:\n{self.log_tail()}")

    def stop_server(self, user: str, server: str) -> None:
        r = requests.delete(f"{self.api}/users/{user}/servers/{server}", headers=self.headers(), timeout=60)
        assert r.status_code in (202, 204, 404), r.text


class BrowserSession(requests.Session):
    """What a logged-in browser holds, driven by requests: the hub's login cookie after the demo
    login, and each project server's OAuth cookie after the first page of that server is opened.
    Unsafe methods carry the `_xsrf` cookie of the path they go to, as JupyterLab does."""

    def __init__(self, hub: "Hub"):
        super().__init__()
        self.hub = hub

    def xsrf(self, url: str) -> str:
        from urllib.parse import urlparse
        path = urlparse(url).path
        best = ("", "")
        for c in self.cookies:
            if c.name == "_xsrf" and path.startswith(c.path or "/") and len(c.path or "/") >= len(best[0]):
                best = (c.path or "/", c.value)
        return best[1]

    def request(self, method, url, **kwargs):
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-XSRFToken", self.xsrf(url))
            kwargs["headers"] = headers
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, **kwargs)

    def login(self, user: str, password: str) -> "BrowserSession":
        self.get(f"{self.hub.url}/hub/login")
        r = self.post(f"{self.hub.url}/hub/login", data={"username": user, "password": password,
                                                         "_xsrf": self.xsrf(f"{self.hub.url}/hub/login")})
        assert r.status_code == 200 and "/hub/login" not in r.url, f"login of {user} failed: {r.status_code} {r.url}"
        return self

    def open_server(self, user: str, server: str) -> str:
        """Open the server's first page (the OAuth hop sets its cookie); returns its base URL."""
        base = f"{self.hub.url}/user/{user}/{server}"
        r = self.get(f"{base}/api/status")  # an API answers 403 without a session: open a page first
        if r.status_code != 200:
            r = self.get(f"{base}/lab")
            assert r.status_code == 200, f"opening {base}/lab: {r.status_code} {r.url}"
        return base


def browser_session(hub: "Hub", enclave, user: str, groups=("researchers",), admin: bool = False) -> BrowserSession:
    """A demo account for `user` (a fresh password) and a session logged in with it."""
    from cirn.hub.auth import new_password, set_account
    password = new_password()
    with enclave.db.session() as s:
        set_account(s, "test", user, password, is_admin=admin, groups=list(groups))
    return BrowserSession(hub).login(user, password)


def new_hub(home: Path, **kwargs) -> Hub:
    return Hub(home=home, port=free_port(), api_port=free_port(), proxy_api_port=free_port(),
               token=secrets.token_hex(16), egress_api_port=free_port(), meter_api_port=free_port(), **kwargs)


def remove_test_objects(client, slug_prefix: str) -> None:
    """Remove containers and networks of projects whose slug starts with `slug_prefix`."""
    for c in client.containers.list(all=True, filters={"label": "org.cirn.project"}):
        if c.labels.get("org.cirn.project", "").startswith(slug_prefix):
            c.remove(force=True)
    for n in client.networks.list(names=[f"cirn-proj-{slug_prefix}"]):
        try:
            n.remove()
        except Exception:
            pass


def container_of(client, project: str, user: str):
    found = [c for c in client.containers.list(filters={"label": [f"org.cirn.project={project}", f"org.cirn.user={user}"]})]
    assert len(found) == 1, f"expected one container for {user}/{project}, found {len(found)}"
    return found[0]


def exec_py(container, code: str) -> tuple[int, str]:
    rc, out = container.exec_run(["python3", "-c", code], user="1000")
    return rc, out.decode(errors="replace")


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=str)
