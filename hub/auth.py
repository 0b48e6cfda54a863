"""The demo's local login: accounts with bcrypt password hashes in the enclave database.

Only for the demo and tests, and only on a loopback address (production logs in through
OpenID Connect); `check_loopback` refuses to start it anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets

import bcrypt
from jupyterhub.auth import Authenticator
from traitlets import Any

from cirn import audit
from cirn.models import Account


class LoopbackOnly(ValueError):
    """The demo login was configured on an address other machines could reach."""


def check_loopback(ip: str) -> None:
    try:
        loopback = ip in ("localhost",) or ipaddress.ip_address(ip).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LoopbackOnly(f"the demo login only runs on a loopback address, not {ip!r}: "
                           "bind to 127.0.0.1 or configure OpenID Connect login")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def new_password() -> str:
    return secrets.token_urlsafe(12)


def set_account(session, actor: str, username: str, password: str, is_admin: bool = False) -> None:
    account = session.get(Account, username)
    if account is None:
        session.add(Account(username=username, password_hash=hash_password(password), is_admin=is_admin))
        audit.record(session, actor, "account.created", username, admin=is_admin)
    else:
        account.password_hash, account.is_admin = hash_password(password), is_admin
        audit.record(session, actor, "account.password_set", username, admin=is_admin)


class DemoAuthenticator(Authenticator):
    """Checks a user name and password against the enclave's accounts table."""

    enclave = Any(help="The Enclave whose database holds the accounts.").tag(config=True)

    def _check(self, username: str, password: str):
        with self.enclave.db.session() as session:
            account = session.get(Account, username)
            if account is None:
                bcrypt.checkpw(b"x", bcrypt.hashpw(b"y", bcrypt.gensalt(4)))  # same cost either way
                ok, admin = False, False
            else:
                ok = bcrypt.checkpw(password.encode("utf-8"), account.password_hash.encode("ascii"))
                admin = account.is_admin
            audit.record(session, username, "login.succeeded" if ok else "login.failed", username)
        return ok, admin

    async def authenticate(self, handler, data):
        username = (data or {}).get("username", "").strip()
        password = (data or {}).get("password", "")
        if not username or not password:
            return None
        ok, admin = await asyncio.to_thread(self._check, username, password)
        return {"name": username, "admin": admin} if ok else None

    async def check_allowed(self, username, authentication=None):
        # Every account in the enclave's table may log in; what they may start is the spawner's call.
        return True
