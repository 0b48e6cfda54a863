"""The demo's local login: accounts with bcrypt password hashes in the enclave database.

Only for the demo and tests, and only on a loopback address (production logs in through
OpenID Connect); `check_loopback` refuses to start it anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets

import bcrypt
from traitlets import Any

from cirn import audit
from cirn.models import Account

from .groups import ALL as GROUPS
from .token_sweep import TokenSweeping


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


def set_account(session, actor: str, username: str, password: str, is_admin: bool = False,
                groups: list[str] | None = None) -> None:
    unknown = sorted(set(groups or []) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; the enclave's groups are {', '.join(GROUPS)}")
    group_json = json.dumps(sorted(set(groups or [])))
    account = session.get(Account, username)
    if account is None:
        session.add(Account(username=username, password_hash=hash_password(password), is_admin=is_admin,
                            groups=group_json))
        audit.record(session, actor, "account.created", username, admin=is_admin, groups=groups or [])
    else:
        account.password_hash, account.is_admin, account.groups = hash_password(password), is_admin, group_json
        audit.record(session, actor, "account.updated", username, admin=is_admin, groups=groups or [])


class DemoAuthenticator(TokenSweeping):
    """Checks a user name and password against the enclave's accounts table."""

    enclave = Any(help="The Enclave whose database holds the accounts.").tag(config=True)

    def _check(self, username: str, password: str):
        with self.enclave.db.session() as session:
            account = session.get(Account, username)
            if account is None:
                bcrypt.checkpw(b"x", bcrypt.hashpw(b"y", bcrypt.gensalt(4)))  # same cost either way
                ok, admin, groups = False, False, []
            else:
                ok = bcrypt.checkpw(password.encode("utf-8"), account.password_hash.encode("ascii"))
                admin, groups = account.is_admin, json.loads(account.groups or "[]")
            audit.record(session, username, "login.succeeded" if ok else "login.failed", username)
        return ok, admin, groups

    async def authenticate(self, handler, data):
        username = (data or {}).get("username", "").strip()
        password = (data or {}).get("password", "")
        if not username or not password:
            return None
        ok, admin, groups = await asyncio.to_thread(self._check, username, password)
        return {"name": username, "admin": admin, "groups": groups} if ok else None

    async def check_allowed(self, username, authentication=None):
        # Every account in the enclave's table may log in; what they may start is the spawner's call.
        return True
