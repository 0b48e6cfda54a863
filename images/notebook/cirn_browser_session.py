"""Jupyter server extension: from outside its container a project server answers only a browser session.

A token (an `Authorization: token|bearer ...` header, or a `token` argument in the URL or form)
is refused with a 403 unless the request's TCP peer is the container's own loopback. Why the
server and not the proxy: the server's own token (`$JUPYTERHUB_API_TOKEN`, printable from any
cell or terminal), a service's token and any user's token all look the same to the proxy, and
the proxy cannot tell which requests are its public ones once they reach the container; the
server sees the socket each request came in on. Why the socket and not the client address:
JupyterHub sets `trust_xheaders`, so `request.remote_ip` is whatever `X-Forwarded-For` says;
the socket's peer is set by the kernel. Everything from the public side (and from the hub,
and from other members' containers on the project network) arrives from another address;
only a process inside this container can connect from 127.0.0.1 or ::1 (the kernel drops
loopback sources arriving on any other interface, and the container has no capabilities to
forge packets). Inside, the server's token still works: the activity reports and
`cirn-egress` use it against the hub and the egress service directly, never through here.

JupyterLab in the browser would otherwise be handed the session's OAuth token in its page
config and send it as a header on every call; it gets an empty token instead and authenticates
with the session's HttpOnly cookie, which scripts in the page cannot read.
"""

from __future__ import annotations

import ipaddress
import re

from tornado import web

MESSAGE = ("token authentication is refused from outside this project's container: a CIRN project server "
           "answers only its browser session (API tokens are not issued to researchers). Open the project "
           "from the hub's home page; results leave the enclave only through egress review")

AUTH_HEADER = re.compile(r"^\s*(token|bearer)\s+\S", re.IGNORECASE)


def socket_peer(request) -> str | None:
    """The address of the TCP peer of this request (not X-Forwarded-For), or None if unknown."""
    context = getattr(getattr(request, "connection", None), "context", None)
    address = getattr(context, "address", None)
    if isinstance(address, tuple) and address:
        return address[0]
    return None


def from_inside(request) -> bool:
    peer = socket_peer(request)
    if not peer:
        return False  # unknown peer: fail closed
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:  # a dual-stack socket reports 127.0.0.1 as ::ffff:127.0.0.1
        ip = ip.ipv4_mapped
    return ip.is_loopback


def carries_token(handler) -> bool:
    if AUTH_HEADER.match(handler.request.headers.get("Authorization", "")):
        return True
    try:
        return bool(handler.get_argument("token", ""))
    except Exception:  # a body tornado cannot parse carries no form argument
        return bool(handler.request.query_arguments.get("token"))


def refuse_outside_tokens(identity_provider, log):
    """Wrap the identity provider's get_user so outside token requests fail before authentication."""
    original = identity_provider.get_user

    async def get_user(handler):
        if carries_token(handler) and not from_inside(handler.request):
            log.warning("cirn_browser_session: refused token request %s %s from %s",
                        handler.request.method, handler.request.path, socket_peer(handler.request))
            raise web.HTTPError(403, MESSAGE)
        return await original(handler)

    identity_provider.get_user = get_user


def empty_page_token(settings, identity_provider):
    """Give JupyterLab's page config no token, whichever order the extensions load in."""

    def hook_without_token(original):
        def hook(handler, page_config):
            page_config = original(handler, page_config) if original else page_config
            page_config["token"] = ""
            return page_config
        return hook

    if hasattr(identity_provider, "page_config_hook"):
        identity_provider.page_config_hook = hook_without_token(identity_provider.page_config_hook)
    settings["page_config_hook"] = hook_without_token(settings.get("page_config_hook"))


def _jupyter_server_extension_points():
    return [{"module": "cirn_browser_session"}]


def _load_jupyter_server_extension(serverapp):
    refuse_outside_tokens(serverapp.identity_provider, serverapp.log)
    empty_page_token(serverapp.web_app.settings, serverapp.identity_provider)
    serverapp.log.info("cirn_browser_session: token requests refused unless they come from inside the container")
