"""Listening on loopback and on each project network's gateway, never on every interface.

The hub API and the egress service must be reached from project containers, which see the host
only at their network's gateway. Binding 0.0.0.0 would also answer the LAN, so each server binds
127.0.0.1 and adds a socket on the gateway of every project network: those present when it
starts, each new one as soon as a spawn creates it, and any created meanwhile at the next look
(every few seconds).
"""

from __future__ import annotations

import asyncio
import logging

from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from .network import LABEL, _describe

log = logging.getLogger("cirn.listeners")
LOOPBACK = "127.0.0.1"


def project_gateways(client=None) -> set[str]:
    """The gateway address of every internal project network on this Docker engine."""
    import docker

    own = client is None
    client = client or docker.from_env()
    try:
        found = set()
        for net in client.networks.list(filters={"label": LABEL}):
            try:
                described = _describe(net)
            except RuntimeError:
                continue
            if described.internal:  # a project network with a route out never gets a listener
                found.add(described.gateway)
        return found
    finally:
        if own:
            client.close()


class GatewayListeners:
    """One server's sockets: loopback, plus one per project network gateway, added as they appear."""

    def __init__(self, server: HTTPServer, port: int, gateways=project_gateways):
        self.server, self.port, self._gateways = server, port, gateways
        self.bound: set[str] = set()

    def listen(self, address: str) -> None:
        """Add a socket on `address` (once)."""
        if address in self.bound:
            return
        self.server.add_sockets(bind_sockets(self.port, address=address))
        self.bound.add(address)
        log.info("listening on %s:%s", address, self.port)

    def refresh(self) -> None:
        """Listen on the gateways of project networks created since the last look."""
        try:
            gateways = self._gateways()
        except Exception:  # the engine restarting must not stop the server; the next look retries
            log.exception("cannot list project networks")
            return
        for gateway in sorted(gateways - self.bound):
            try:
                self.listen(gateway)
            except OSError as exc:  # the network went away between listing and binding
                log.warning("cannot listen on %s:%s: %s", gateway, self.port, exc)

    def start(self, interval: float = 3.0) -> "GatewayListeners":
        self.refresh()
        PeriodicCallback(self.refresh, interval * 1000).start()
        return self


_HUB: GatewayListeners | None = None


def hub_listen_on(gateway: str) -> None:
    """Called by the spawner right after it made a project's network: the hub API answers there
    before the container asks (the periodic look would, a few seconds later)."""
    if _HUB is not None:
        _HUB.listen(gateway)


async def _hub_listeners(port: int, interval: float) -> None:
    global _HUB
    from jupyterhub.app import JupyterHub

    app = JupyterHub.instance()
    # JupyterHub makes its HTTP server (bound to loopback by hub_bind_url) at the end of start().
    while getattr(app, "http_server", None) is None:
        await asyncio.sleep(0.2)
    _HUB = GatewayListeners(app.http_server, port).start(interval)


def listen_on_gateways_when_hub_starts(port: int, interval: float = 3.0) -> None:
    """From the hub's config (loaded inside its running event loop): add the gateway listeners
    once the hub has made its server. Outside a running loop (a config read by a test) nothing."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.create_task(_hub_listeners(port, interval))
