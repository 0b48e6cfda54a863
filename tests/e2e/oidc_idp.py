"""A real OpenID provider (npm oidc-provider, tests/e2e/oidc/provider.mjs) on loopback for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from cirn.hub.harness import REPO, free_port

SCRIPT = Path(__file__).with_name("oidc") / "provider.mjs"


@dataclass
class OIDCProvider:
    folder: Path
    users: dict
    port: int = field(default_factory=free_port)
    client_id: str = "cirn-hub"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    access_token_ttl: int = 60
    proc: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def users_file(self) -> Path:
        return self.folder / "users.json"

    def write_users(self) -> None:
        tmp = self.users_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.users))
        os.replace(tmp, self.users_file)

    def disable(self, username: str) -> None:
        self.users[username]["disabled"] = True
        self.write_users()

    def hub_env(self, **extra) -> dict:
        """What the hub's environment needs to log in through this provider."""
        return {"CIRN_AUTHENTICATOR": "oidc", "CIRN_OIDC_ISSUER": self.issuer, "CIRN_OIDC_CLIENT_ID": self.client_id,
                "CIRN_OIDC_CLIENT_SECRET": self.client_secret, **extra}

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_users()
        cfg = self.folder / "provider.json"
        cfg.write_text(json.dumps({
            "issuer": self.issuer, "port": self.port, "users_file": str(self.users_file),
            "access_token_ttl": self.access_token_ttl,
            "clients": [{"client_id": self.client_id, "client_secret": self.client_secret,
                         "redirect_uris": self.redirect_uris,
                         "post_logout_redirect_uris": self.post_logout_redirect_uris,
                         "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}]}))
        log = open(self.folder / "provider.log", "ab")
        self.proc = subprocess.Popen(["node", str(SCRIPT), str(cfg)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"oidc-provider did not answer:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def log_tail(self) -> str:
        p = self.folder / "provider.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""


def provider_for(hub, folder: Path, users: dict, **kwargs) -> OIDCProvider:
    """A provider whose client is `hub`: its login callback and its page after logout registered.
    The users are copied, so disabling one does not change the caller's table."""
    return OIDCProvider(folder, {name: dict(u) for name, u in users.items()},
                        redirect_uris=[f"{hub.url}/hub/oauth_callback"],
                        post_logout_redirect_uris=[f"{hub.url}/hub/login"], **kwargs)


def oidc_login(page, hub_url: str, user: str, password: str) -> None:
    """In the browser: the hub's login page, on to the provider, sign in (the caller waits for where it lands)."""
    page.goto(f"{hub_url}/hub/login")
    page.get_by_text("Sign in with CIRN identity").click()
    page.wait_for_selector("#idp-username")
    page.fill("#idp-username", user)
    page.fill("#idp-password", password)
    page.click("#idp-login")


@contextlib.contextmanager
def oidc_enclave(home: Path, docker_client, slug: str, title: str, users: dict, refresh_age: int):
    """A fresh enclave with one project of `users`, its hub logging in through a real provider
    whose access tokens last 2 s (so refreshes happen within a test): yields (hub, idp, enclave)."""
    from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects

    enclave = fresh_enclave(home)
    add_project(enclave, slug, title, users)
    hub = new_hub(home)
    idp = provider_for(hub, home / "idp", users, access_token_ttl=2)
    idp.start()
    hub.env = idp.hub_env(CIRN_AUTH_REFRESH_AGE=str(refresh_age))
    try:
        hub.start()
        yield hub, idp, enclave
    finally:
        hub.stop()
        idp.stop()
        remove_test_objects(docker_client, slug[:7])
