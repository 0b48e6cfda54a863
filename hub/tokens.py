"""API tokens in the enclave: only enclave admins make them; researchers' tokens are revoked at hub start.

A researcher's API token is a way around the browser session (and so around every control on
it): with one, `curl` from outside the enclave talks to the hub and, before the single-user
servers refused outside tokens, to the project server. So the default `user` role is JupyterHub's
`self` without `tokens`; the Token page answers 403 to anyone without the `tokens` scope (the
hub admins' role has it); and when the hub starts, tokens owned by users who may not make tokens
are deleted, except the tokens of their running servers (which those servers need for activity
reports and `cirn-egress`, and which the servers refuse from outside). OAuth tokens of browser
sessions are left: each is limited to the one server or service it was issued for.
"""

from __future__ import annotations

from tornado import web

# JupyterHub's `self` metascope (jupyterhub.scopes._expand_self_scope) minus `tokens` and the
# sharing scopes (sharing a server with another user is not how CIRN grants access).
RESEARCHER_SCOPES = ["read:users!user", "users:activity!user", "servers!user", "access:servers!user"]
NO_TOKENS = ("API tokens are not issued to researchers in the CIRN enclave: work in your project's server from "
             "the hub's home page; ask an enclave admin if an automated task needs a token")
SERVER_TOKEN_NOTE = "Server at "


def may_make_tokens(scopes) -> bool:
    """Whether a set of expanded scopes includes `tokens` (for anyone, or filtered)."""
    return any(s == "tokens" or s.startswith("tokens!") for s in scopes)


def is_server_token(token, server_role_scopes) -> bool:
    """A token the hub gave a server at spawn: its note says so and it holds no scope beyond the
    `server` role's (whose `!server` filter the hub resolves to the one server at spawn). One made
    to look like it could do no more than a server's token, which the servers refuse from outside."""
    allowed = set(server_role_scopes)
    scopes = set(token.scopes or [])

    def server_scope(s: str) -> bool:
        base, _, target = s.partition("!server=")
        return s in allowed or bool(target and f"{base}!server" in allowed)

    return (token.note or "").startswith(SERVER_TOKEN_NOTE) and bool(scopes) and all(map(server_scope, scopes))


def revoke_researcher_tokens(db) -> list[tuple[str, str]]:
    """Delete API tokens of users without the `tokens` scope, except their servers' tokens.

    Returns (user, note) of each revoked token. OAuth tokens (client_id other than "jupyterhub")
    are browser sessions of one server or service and are kept.
    """
    from jupyterhub import orm
    from jupyterhub.scopes import get_scopes_for

    server_role = orm.Role.find(db, "server")
    server_scopes = server_role.scopes if server_role else []
    revoked = []
    for user in db.query(orm.User):
        if may_make_tokens(get_scopes_for(user)):
            continue
        for token in list(user.api_tokens):
            if token.client_id != "jupyterhub" or is_server_token(token, server_scopes):
                continue
            revoked.append((user.name, token.note or ""))
            db.delete(token)
    db.commit()
    return revoked


def install_startup_revocation() -> None:
    """Run revoke_researcher_tokens once the hub has loaded its roles, on every start.

    JupyterHub has no start-up hook in its configuration; its role assignment is the last step
    that settles who holds which scopes, so the revocation runs right after it.
    """
    from jupyterhub.app import JupyterHub

    original = JupyterHub.init_role_assignment
    if getattr(original, "_cirn_revokes_tokens", False):
        return

    async def init_role_assignment(self):
        await original(self)
        for user, note in revoke_researcher_tokens(self.db):
            self.log.warning("cirn: revoked API token %r of %s (researchers hold no API tokens)", note, user)

    init_role_assignment._cirn_revokes_tokens = True
    JupyterHub.init_role_assignment = init_role_assignment


def install_token_page() -> None:
    """The hub's /token page answers 403 to users without the `tokens` scope.

    JupyterHub's routes come before any extra handler, so the page's entry in its handler list is
    replaced (before the hub builds its application) with a subclass that checks the scope.
    """
    from jupyterhub import handlers
    from jupyterhub.handlers.pages import TokenPageHandler

    class EnclaveTokenPageHandler(TokenPageHandler):
        @web.authenticated
        async def get(self):
            if not may_make_tokens(self.expanded_scopes):
                raise web.HTTPError(403, NO_TOKENS)
            return await super().get()

    for table in (handlers.default_handlers, handlers.pages.default_handlers):
        for i, entry in enumerate(table):
            if entry[0] == r"/token" and entry[1] is TokenPageHandler:
                table[i] = (entry[0], EnclaveTokenPageHandler, *entry[2:])


def user_role_without_tokens(roles: list[dict]) -> list[dict]:
    """The roles with one `user` role: every scope the services gave it (e.g. access to the egress
    service), `self` replaced by RESEARCHER_SCOPES, and no `tokens` scope in any form."""
    others = [r for r in roles if r.get("name") != "user"]
    scopes: list[str] = []
    for role in [r for r in roles if r.get("name") == "user"] or [{"scopes": ["self"]}]:
        for scope in role.get("scopes", []):
            for s in (RESEARCHER_SCOPES if scope == "self" else [scope]):
                if s not in scopes and not may_make_tokens([s]):
                    scopes.append(s)
    if not scopes:
        scopes = list(RESEARCHER_SCOPES)
    return [*others, {"name": "user", "description": "Researchers: their own servers and the enclave's services; "
                                                     "no API tokens (cirn.hub.tokens)", "scopes": scopes}]


def configure_tokens(c, s) -> None:
    """Researchers hold no API tokens.

    c.JupyterHub.load_roles  += the `user` role as RESEARCHER_SCOPES (JupyterHub's `self` without `tokens`)
    /hub/token               -> 403 without the `tokens` scope
    at hub start             -> revoke_researcher_tokens
    """
    c.JupyterHub.load_roles = user_role_without_tokens(list(c.JupyterHub.load_roles or []))
    install_token_page()
    install_startup_revocation()
