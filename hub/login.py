"""How people log in to the hub.

`demo` (the default): local accounts from the enclave database, only on a loopback address.
`oidc` (production): OpenID Connect through OAuthenticator's GenericOAuthenticator against the
institution's identity provider (Keycloak, for example), which also enforces multi-factor
authentication (README, "Login and MFA"). Chosen by CIRN_AUTHENTICATOR in the hub's environment;
the OIDC settings are read from CIRN_OIDC_* variables (`OIDCSettings.from_env` lists them).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from oauthenticator.generic import GenericOAuthenticator
from tornado.httpclient import HTTPClientError
from tornado.ioloop import PeriodicCallback
from traitlets import Any, Bool

from .groups import ALL as HUB_GROUPS
from .groups import ENCLAVE_ADMINS
from .token_sweep import TokenSweeping


class LoginConfigError(ValueError):
    """Login settings that cannot work; the message names the variable to set."""


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").replace(",", " ").split() if v.strip()]


@dataclass(frozen=True)
class OIDCSettings:
    """OpenID Connect settings, from the hub's environment.

    CIRN_OIDC_ISSUER         the provider's issuer URL (discovery at <issuer>/.well-known/openid-configuration)
    CIRN_OIDC_CLIENT_ID      the hub's client id at the provider
    CIRN_OIDC_CLIENT_SECRET  its secret (or CIRN_OIDC_CLIENT_SECRET_FILE, a file holding it)
    CIRN_OIDC_CALLBACK_URL   default http://<CIRN_IP>:<CIRN_PORT>/hub/oauth_callback
    CIRN_OIDC_SCOPES         default "openid profile email groups"
    CIRN_OIDC_USERNAME_CLAIM default preferred_username
    CIRN_OIDC_GROUPS_CLAIM   default groups (Keycloak's "/path" group names are accepted)
    CIRN_OIDC_GROUP_MAP      "idp-group=hub-group,..." when the provider's names differ from the hub's
    CIRN_OIDC_ADMIN_GROUPS   hub groups whose members are hub admins (default enclave-admins)
    CIRN_AUTH_REFRESH_AGE    seconds between checks with the provider (default 300)
    CIRN_SESSION_HOURS       hub login cookie lifetime in hours (default 12)
    """

    issuer: str
    client_id: str
    client_secret: str
    callback_url: str
    scopes: list[str] = field(default_factory=lambda: ["openid", "profile", "email", "groups"])
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    group_map: dict[str, str] = field(default_factory=dict)
    admin_groups: list[str] = field(default_factory=lambda: [ENCLAVE_ADMINS])
    refresh_age: int = 300
    session_hours: float = 12

    @classmethod
    def from_env(cls, env: dict, ip: str = "127.0.0.1", port: int = 8000) -> "OIDCSettings":
        issuer = env.get("CIRN_OIDC_ISSUER", "").rstrip("/")
        client_id = env.get("CIRN_OIDC_CLIENT_ID", "")
        secret = env.get("CIRN_OIDC_CLIENT_SECRET", "")
        if not secret and env.get("CIRN_OIDC_CLIENT_SECRET_FILE"):
            with open(env["CIRN_OIDC_CLIENT_SECRET_FILE"], encoding="utf-8") as fh:
                secret = fh.read().strip()
        for name, value in (("CIRN_OIDC_ISSUER", issuer), ("CIRN_OIDC_CLIENT_ID", client_id),
                            ("CIRN_OIDC_CLIENT_SECRET (or CIRN_OIDC_CLIENT_SECRET_FILE)", secret)):
            if not value:
                raise LoginConfigError(f"OpenID Connect login needs {name}; set it in the hub's environment")
        group_map = {}
        for pair in _split(env.get("CIRN_OIDC_GROUP_MAP", "")):
            idp, sep, hub = pair.partition("=")
            if not sep or hub not in HUB_GROUPS:
                raise LoginConfigError(f"CIRN_OIDC_GROUP_MAP entry {pair!r} must be idp-group=hub-group with a hub "
                                       f"group from: {', '.join(HUB_GROUPS)}")
            group_map[idp] = hub
        admin_groups = _split(env.get("CIRN_OIDC_ADMIN_GROUPS", ENCLAVE_ADMINS))
        unknown = sorted(set(admin_groups) - set(HUB_GROUPS))
        if unknown:
            raise LoginConfigError(f"CIRN_OIDC_ADMIN_GROUPS names unknown hub group(s) {', '.join(unknown)}")
        return cls(
            issuer=issuer, client_id=client_id, client_secret=secret,
            callback_url=env.get("CIRN_OIDC_CALLBACK_URL") or f"http://{ip}:{port}/hub/oauth_callback",
            scopes=_split(env.get("CIRN_OIDC_SCOPES", "")) or ["openid", "profile", "email", "groups"],
            username_claim=env.get("CIRN_OIDC_USERNAME_CLAIM", "preferred_username"),
            groups_claim=env.get("CIRN_OIDC_GROUPS_CLAIM", "groups"), group_map=group_map,
            admin_groups=admin_groups, refresh_age=int(env.get("CIRN_AUTH_REFRESH_AGE", "300")),
            session_hours=float(env.get("CIRN_SESSION_HOURS", "12")),
        )


def discover(issuer: str, timeout: float = 10) -> dict:
    """The provider's OpenID configuration (endpoints), read once when the hub starts."""
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            meta = json.loads(resp.read())
    except Exception as exc:
        raise LoginConfigError(f"cannot read the OpenID configuration at {url} ({exc}); check CIRN_OIDC_ISSUER "
                               "and that the identity provider is reachable from the hub") from None
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise LoginConfigError(f"{url} names issuer {meta.get('issuer')!r}, not {issuer!r}; set CIRN_OIDC_ISSUER "
                               "to the provider's issuer exactly")
    return meta


def hub_groups(claim_values, group_map: dict[str, str]) -> set[str]:
    """The provider's group names to the enclave's hub groups; other groups are ignored, so the
    provider's internal groups never become hub groups."""
    out = set()
    for value in claim_values or []:
        name = str(value).strip().lstrip("/")  # Keycloak sends full paths such as /researchers
        name = group_map.get(name, group_map.get(f"/{name}", name))
        if name in HUB_GROUPS:
            out.add(name)
    return out


# Set inside refresh_user when the provider answers a refresh-token request with a 4xx, that is,
# it refuses the account (disabled, deleted, session revoked), as opposed to being unreachable.
_refresh_refused: contextvars.ContextVar[str | None] = contextvars.ContextVar("cirn_refresh_refused", default=None)


class EnclaveOIDCAuthenticator(TokenSweeping, GenericOAuthenticator):
    """GenericOAuthenticator that also records accounts the provider stops accepting.

    At each refresh (every `auth_refresh_age` seconds of use, before every spawn, and every
    `auth_refresh_age` seconds for users with a running server) the access token is checked at
    the userinfo endpoint and, if refused, renewed with the refresh token.
    When the provider refuses the refresh token too, the hub session ends (OAuthenticator) and the
    account is recorded in the enclave database, so the reconciler stops its servers.
    """

    enclave = Any(help="The Enclave whose database records accounts the provider refused.").tag(config=True)
    refresh_running_users = Bool(True, help="""Also check with the provider, every `auth_refresh_age` seconds,
        every user with a running server, whether or not they use the hub meanwhile. Without it an
        account disabled at the provider is noticed only at its next request to the hub, so a server
        left running with no browser open would keep running. Default True (added with the OIDC login).""",
    ).tag(config=True)

    _sweeper = None
    _hub = None
    _refreshing = None  # user name -> the refresh in flight (an asyncio Task)

    def get_handlers(self, app):
        # The hub asks for its login handlers once, with its users loaded and its event loop
        # running: the moment to start checking users with running servers.
        if self.refresh_running_users and self.auth_refresh_age > 0 and self._sweeper is None:
            self._hub = app
            self._sweeper = PeriodicCallback(self.refresh_running, self.auth_refresh_age * 1000, jitter=0.1)
            self._sweeper.start()
        return super().get_handlers(app)

    async def get_token_info(self, handler, params):
        try:
            return await super().get_token_info(handler, params)
        except HTTPClientError as exc:
            if params.get("grant_type") == "refresh_token" and 400 <= exc.code < 500:
                _refresh_refused.set(f"the identity provider refused the refresh token (HTTP {exc.code})")
            raise

    async def refresh_user(self, user, handler=None, **kwargs):
        """One refresh per user at a time: callers arriving while one runs (the sweep and a
        request, or two requests) share its answer, each getting a copy.

        Two refreshes at once would both send the same refresh token. A provider that rotates
        refresh tokens accepts the first and refuses the second (and may then revoke the whole
        session), and that refusal would be recorded here and stop the user's servers.
        """
        if self._refreshing is None:
            self._refreshing = {}
        task = self._refreshing.get(user.name)
        if task is None:
            task = asyncio.ensure_future(self._refresh_once(user, handler, **kwargs))
            self._refreshing[user.name] = task

            def forget(done, name=user.name):
                if self._refreshing.get(name) is done:
                    del self._refreshing[name]
            task.add_done_callback(forget)
        result = await asyncio.shield(task)  # a caller that gives up does not cancel the others' refresh
        return copy.deepcopy(result) if isinstance(result, dict) else result

    async def _refresh_once(self, user, handler=None, **kwargs):
        _refresh_refused.set(None)
        result = await super().refresh_user(user, handler, **kwargs)
        if isinstance(result, dict) and result.get("auth_state"):
            # Saved before the shared refresh ends: a refresh starting right after it (a forced one
            # before a spawn) must read the rotated refresh token, not the one just used. The
            # callers save the same state again, as they always do.
            await user.save_auth_state(result["auth_state"])
        reason = _refresh_refused.get()
        if result is False and reason and self.enclave is not None:
            self.log.warning("identity provider refused %s at refresh: %s", user.name, reason)
            await asyncio.to_thread(self._record, user.name, reason)
            await self.sweep_tokens_now()  # the account's tokens go now, not at the next sweep
        return result

    async def refresh_running(self) -> list[str]:
        """Refresh every user with a running server whose last check is `auth_refresh_age` old;
        return the names the provider did not confirm. A refusal is recorded by `refresh_user`
        (so the reconciler stops the servers); a provider that cannot be reached is tried again
        at the next sweep, and the servers keep running meanwhile."""
        not_confirmed = []
        for user in [u for u in list(self._hub.users.values()) if u.active]:
            last = getattr(user, "_auth_refreshed", None)
            if last and time.monotonic() - last < self.auth_refresh_age:
                continue  # the user's own requests keep it checked
            try:
                result = await self.refresh_user(user)
            except Exception:
                self.log.exception("could not check %s with the identity provider; trying again later", user.name)
                continue
            if not result:
                not_confirmed.append(user.name)
                continue
            user._auth_refreshed = time.monotonic()
            if isinstance(result, dict):
                await self._keep_refreshed(user, result)
        return not_confirmed

    async def _keep_refreshed(self, user, model: dict) -> None:
        """What the hub keeps from a refresh made outside a request (as its handlers do with one):
        the renewed tokens, the provider's groups and the admin flag."""
        if model.get("admin") is not None and model["admin"] != user.admin:
            user.admin = model["admin"]
            self._hub.db.commit()
        if self.manage_groups and model.get("groups") is not None:
            user.sync_groups(model["groups"])
        if "auth_state" in model:
            await user.save_auth_state(model["auth_state"])

    async def authenticate(self, handler, data=None, **kwargs):
        model = await super().authenticate(handler, data, **kwargs)
        if model and self.enclave is not None:
            await asyncio.to_thread(self._login_audit, model["name"], model.get("groups") or [])
        return model

    def _record(self, username: str, reason: str) -> None:
        from .identity import record_refusal

        with self.enclave.db.session() as session:
            record_refusal(session, username, reason)

    def _login_audit(self, username: str, groups: list[str]) -> None:
        from cirn import audit

        from .identity import clear_refusal

        with self.enclave.db.session() as session:
            clear_refusal(session, username)
            audit.record(session, username, "login.succeeded", username, method="oidc", groups=sorted(groups))


def configure_oidc(c, s, settings: OIDCSettings, meta: dict) -> None:
    """OpenID Connect login, groups from the provider's claim, refresh and logout.

    c.JupyterHub.authenticator_class            <- EnclaveOIDCAuthenticator (GenericOAuthenticator)
    c.GenericOAuthenticator.authorize_url ...   <- the provider's discovered endpoints
    c.GenericOAuthenticator.manage_groups       <- True; auth_state_groups_key maps the groups claim
    c.GenericOAuthenticator.allowed_groups      <- every enclave group (no group, no entry)
    c.GenericOAuthenticator.admin_groups        <- CIRN_OIDC_ADMIN_GROUPS
    c.Authenticator.enable_auth_state           <- True (tokens kept encrypted, key in secrets/)
    c.Authenticator.auth_refresh_age            <- CIRN_AUTH_REFRESH_AGE; refresh_pre_spawn <- True
    c.Authenticator.auth_refresh_strict         <- True (a token request refused by the provider fails)
    c.GenericOAuthenticator.logout_redirect_url <- the provider's end_session_endpoint
    c.JupyterHub.cookie_max_age_days            <- CIRN_SESSION_HOURS / 24
    """

    a = c.EnclaveOIDCAuthenticator
    c.JupyterHub.authenticator_class = EnclaveOIDCAuthenticator
    a.enclave = s.enclave
    a.login_service = "CIRN identity"
    a.client_id, a.client_secret = settings.client_id, settings.client_secret
    a.oauth_callback_url = settings.callback_url
    a.authorize_url = meta["authorization_endpoint"]
    a.token_url = meta["token_endpoint"]
    a.userdata_url = meta["userinfo_endpoint"]
    a.scope = settings.scopes
    a.username_claim = settings.username_claim
    a.enable_pkce = True
    a.manage_groups = True
    claim, group_map = settings.groups_claim, dict(settings.group_map)
    a.auth_state_groups_key = lambda auth_state: sorted(
        hub_groups((auth_state.get("oauth_user") or {}).get(claim), group_map))
    a.allowed_groups = set(HUB_GROUPS)
    a.admin_groups = set(settings.admin_groups)
    a.enable_auth_state = True
    c.CryptKeeper.keys = [s.enclave.state.secret("jupyterhub_crypt_key")]
    a.auth_refresh_age = settings.refresh_age
    a.refresh_pre_spawn = True
    # JupyterHub 6.1 lets a token-authenticated request (or an admin's spawn for someone) go on
    # with stale auth when the refresh fails; in the enclave a refused refresh refuses it too.
    a.auth_refresh_strict = True
    if meta.get("end_session_endpoint"):
        hub_home = settings.callback_url.rsplit("/oauth_callback", 1)[0] + "/login"
        query = urllib.parse.urlencode({"client_id": settings.client_id, "post_logout_redirect_uri": hub_home})
        a.logout_redirect_url = f"{meta['end_session_endpoint']}?{query}"
    c.JupyterHub.cookie_max_age_days = settings.session_hours / 24


def configure_login(c, s) -> None:
    if s.authenticator == "demo":
        from .auth import DemoAuthenticator, check_loopback

        check_loopback(s.ip)
        c.JupyterHub.authenticator_class = DemoAuthenticator
        c.DemoAuthenticator.enclave = s.enclave
        # Group membership (and so roles) comes from the accounts table at every login.
        c.DemoAuthenticator.manage_groups = True
        return
    if s.authenticator == "oidc":
        settings = OIDCSettings.from_env(s.enclave.environ, s.ip, s.port)
        configure_oidc(c, s, settings, discover(settings.issuer))
        return
    raise ValueError(f"unknown authenticator {s.authenticator!r} (CIRN_AUTHENTICATOR); use 'demo' or 'oidc'")
