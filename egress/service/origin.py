"""Where a call to the egress service comes from: outside the enclave (through the hub's proxy) or
inside it (a project network), told from the TCP peer, which a caller cannot forge.

The service has two doors. The hub's proxy reaches it on loopback; project containers reach its
direct listener on their network's gateway. A header such as X-Real-IP or X-Forwarded-For is
believed only from the proxy on loopback, and then only its last X-Forwarded-For entry (the one
the proxy appended; earlier ones come from the client). So:

- a peer that is not loopback came in through the direct listener: inside, whatever it sends;
- a loopback peer with a forwarded client address on a project network (a container that reached
  the proxy) is inside too;
- only a loopback peer whose forwarded client, if any, is on no project network is outside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time

log = logging.getLogger("cirn.egress.service")


def _address(value: str | None):
    try:
        return ipaddress.ip_address((value or "").strip().split("%")[0])
    except ValueError:
        return None


def peer_address(request) -> str:
    """The TCP peer of the connection (tornado's context address; xheaders are off)."""
    address = getattr(request.connection.context, "address", None)
    return address[0] if isinstance(address, tuple) and address else ""


def forwarded_client(headers) -> str | None:
    """The client address the proxy appended to X-Forwarded-For (its last entry), if any."""
    values = [v.strip() for v in ",".join(headers.get_list("X-Forwarded-For")).split(",") if v.strip()]
    return values[-1] if values else None


def adopt_proxy_headers(request) -> None:
    """What tornado's xheaders did for the client's address (in the logs), for the proxy on
    loopback only and from its own (last) entry. The scheme needs nothing: HubOAuth reads the
    forwarded scheme itself (jupyterhub.utils.get_browser_protocol) to mark its cookies Secure."""
    peer = _address(peer_address(request))
    if peer is None or not peer.is_loopback:
        return
    client = forwarded_client(request.headers)
    if client and _address(client) is not None:
        request.remote_ip = client


def is_inside(peer: str, forwarded: str | None, subnets) -> bool:
    """True unless the call came through the proxy on loopback from a client on no project network."""
    peer_ip = _address(peer)
    if peer_ip is None or not peer_ip.is_loopback:
        return True
    if forwarded is None:
        return False  # a process on the host itself, e.g. the proxy's own health check
    client = _address(forwarded)
    if client is None:
        return True  # a proxy always appends an address; anything else is not believed
    return any(client in net for net in subnets)


class ProjectNetworks:
    """The project networks' subnets, read at most every `ttl` seconds from `source` (the file the
    hub publishes, cirn.hub.network_file: this service may not ask Docker)."""

    def __init__(self, source, ttl: float = 3.0):
        self.ttl = ttl
        self._source = source
        self._subnets: list = []
        self._at = 0.0

    def _load(self) -> list:
        return self._source()

    async def subnets(self) -> list:
        if time.monotonic() - self._at > self.ttl:
            self._subnets = await asyncio.to_thread(self._load)
            self._at = time.monotonic()
        return self._subnets

    async def request_is_inside(self, request) -> bool:
        """Inside unless proven outside; when the hub's file cannot say, a proxied call counts as inside."""
        peer, forwarded = peer_address(request), forwarded_client(request.headers)
        if is_inside(peer, None, []):  # the direct listener: no need to look
            return True
        if forwarded is None:
            return False
        try:
            return is_inside(peer, forwarded, await self.subnets())
        except Exception:
            log.exception("cannot list the project networks; treating the call from %s as inside", forwarded)
            return True
