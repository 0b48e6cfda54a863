"""The hub's token sweep: tokens of accounts the identity provider refused are deleted, and no API
token lives longer than the policy's `hub.admin_token_max_days`.

JupyterHub (5.1+) itself refuses to create an API token with no expiry, or a longer one, once
`JupyterHub.token_expires_in_max_seconds` is set; that covers every token made through the REST
API and the Token page, where only enclave admins may make them. It leaves alone the tokens made
before the limit was set and those of `jupyterhub token` on the command line, so the sweep
shortens those. Both need the hub's own database, so the sweep runs inside the hub, at its start
and every `hub.reconcile_interval` seconds; the authenticators start it from `get_handlers`, the
one configurable hook that receives the running hub (JupyterHub has no start-up hook).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field

from jupyterhub.auth import Authenticator
from traitlets import Any, Float, Integer

log = logging.getLogger("cirn.hub.tokens")


@dataclass
class SweepResult:
    revoked: list[tuple[str, str]] = field(default_factory=list)    # (owner, note) of deleted tokens
    shortened: list[tuple[str, str]] = field(default_factory=list)  # (owner, note) of tokens given an expiry


def sweep_tokens(db, refused: set[str], max_seconds: int, keep: set[int], now: dt.datetime) -> SweepResult:
    """Delete every token (API, OAuth and server) of the `refused` users; give every other user's
    API token, except the server tokens in `keep` (ids), an expiry no later than its creation plus
    `max_seconds` (0: no limit). `now` is naive UTC, as JupyterHub stores times."""
    from jupyterhub import orm

    result = SweepResult()
    limit = dt.timedelta(seconds=max_seconds)
    for token in db.query(orm.APIToken).filter(orm.APIToken.user_id.isnot(None)).all():
        owner = token.user.name
        if owner in refused:
            result.revoked.append((owner, token.note or ""))
            db.delete(token)
            continue
        # OAuth tokens (another client_id) expire with the login cookie (oauth_token_expires_in).
        if not max_seconds or token.id in keep or token.client_id != "jupyterhub":
            continue
        latest = (token.created or now) + limit
        if token.expires_at is None or token.expires_at > latest:
            token.expires_at = latest
            result.shortened.append((owner, token.note or ""))
    if result.revoked or result.shortened:
        db.commit()
    return result


def server_token_ids(app) -> set[int]:
    """Ids of the tokens the hub gave its users' servers (they live as long as the server)."""
    from jupyterhub import orm

    ids = set()
    for user in list(app.users.values()):
        for spawner in list(user.spawners.values()):
            token = orm.APIToken.find(app.db, spawner.api_token) if spawner.api_token else None
            if token is not None:
                ids.add(token.id)
    return ids


class TokenSweeping(Authenticator):
    """The enclave's authenticators' base: runs the token sweep in the hub (see the module's docstring)."""

    enclave = Any(help="The Enclave whose database records accounts the identity provider refused.").tag(config=True)
    token_max_seconds = Integer(0, help="""Longest lifetime of a user's API token, in seconds; longer ones are
        shortened by the sweep. Set from the policy's hub.admin_token_max_days. 0: no limit.""").tag(config=True)
    token_sweep_interval = Float(20, help="""Seconds between token sweeps (the reconciler's interval, so a refused
        account's tokens go when its servers do). 0: no sweep.""").tag(config=True)

    _token_app = None
    _token_sweeper = None

    def get_handlers(self, app):
        if self._token_app is None and self.token_sweep_interval > 0:
            from tornado.ioloop import IOLoop, PeriodicCallback

            self._token_app = app
            self._token_sweeper = PeriodicCallback(self.sweep_tokens_now, self.token_sweep_interval * 1000)
            self._token_sweeper.start()
            IOLoop.current().add_callback(self.sweep_tokens_now)
        return super().get_handlers(app)

    def _refused(self) -> set[str]:
        from .identity import refused_accounts

        with self.enclave.db.session() as session:
            return refused_accounts(session)

    async def sweep_tokens_now(self) -> SweepResult | None:
        """One sweep; also called right after an account is refused, so its tokens go at once."""
        app = self._token_app
        if app is None or self.enclave is None:
            return None
        try:
            refused = await asyncio.to_thread(self._refused)
            # On the event loop: the hub's database session is not shared with threads.
            result = sweep_tokens(app.db, refused, self.token_max_seconds, server_token_ids(app),
                                  dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        except Exception:
            self.log.exception("cirn: the token sweep failed; it runs again in %ss", self.token_sweep_interval)
            return None
        for owner, note in result.revoked:
            self.log.warning("cirn: deleted token %r of %s (the identity provider refused the account)", note, owner)
        for owner, note in result.shortened:
            self.log.warning("cirn: token %r of %s now expires within the policy's hub.admin_token_max_days",
                             note, owner)
        return result


def configure_token_lifetime(c, s) -> None:
    """API tokens expire; a refused account's tokens are deleted.

    c.JupyterHub.token_expires_in_max_seconds <- policy hub.admin_token_max_days (creation refused beyond it)
    c.Authenticator.token_max_seconds         <- the same (older tokens shortened by the sweep)
    c.Authenticator.token_sweep_interval      <- the reconciler's interval
    """
    seconds = int(s.enclave.policy.hub.admin_token_max_days * 86400)
    c.JupyterHub.token_expires_in_max_seconds = seconds
    c.Authenticator.token_max_seconds = seconds
    c.Authenticator.token_sweep_interval = float(s.reconcile_interval or s.enclave.policy.hub.reconcile_interval)
