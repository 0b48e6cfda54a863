"""Listening on loopback and on each project network's gateway, never on every interface.

The hub API and the egress service must be reached from project containers, which see the host
only at their network's gateway. Binding 0.0.0.0 would also answer the LAN, so each server binds
127.0.0.1 and adds a socket on the gateway of every project network: those present when it
starts, each new one as soon as a spawn creates it, and any created meanwhile at the next look
(every few seconds). A network that goes away leaves its socket bound to an address nobody has.
"""

from __future__ import annotations

import asyncio
import errno
import logging

from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from .network import LABEL, _describe

log = logging.getLogger("cirn.listeners")
LOOPBACK = "127.0.0.1"


def project_networks(client=None) -> dict[str, str]:
    """The internal project networks on this Docker engine: network id -> gateway address."""
    import docker

    own = client is None
    client = client or docker.from_env()
    try:
        found = {}
        for net in client.networks.list(filters={"label": LABEL}):
            try:
                described = _describe(net)
            except RuntimeError:
                continue
            if described.internal:  # a project network with a route out never gets a listener
                found[net.id] = described.gateway
        return found
    finally:
        if own:
            client.close()


def own_addresses_on(network_id: str, client=None) -> list[str]:
    """Addresses of the network's attached containers: where this host does not own the gateway
    (the hub itself in a container attached to the network), one of them is ours."""
    import docker

    own = client is None
    client = client or docker.from_env()
    try:
        attached = client.networks.get(network_id).attrs.get("Containers") or {}
        return [c["IPv4Address"].split("/")[0] for c in attached.values() if c.get("IPv4Address")]
    finally:
        if own:
            client.close()


class GatewayListeners:
    """One server's sockets: loopback, plus one per project network, added as networks appear.

    For each network the gateway, which the host owns; where it does not (the hub runs in a
    container attached to the project network, as in the deployment test), the host's own
    address on that network. Either way only an address on a project network.
    """

    def __init__(self, server: HTTPServer, port: int, networks=project_networks, addresses_on=own_addresses_on):
        self.server, self.port = server, port
        self._networks, self._addresses_on = networks, addresses_on
        self.bound: set[str] = set()
        self.handled: set[str] = set()

    def listen(self, address: str) -> None:
        """Add a socket on `address` (once)."""
        if address in self.bound:
            return
        self.server.add_sockets(bind_sockets(self.port, address=address))
        self.bound.add(address)
        log.info("listening on %s:%s", address, self.port)

    def _try(self, address: str) -> bool:
        try:
            self.listen(address)
            return True
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
            return False

    def refresh(self) -> None:
        """Listen on the project networks created since the last look."""
        try:
            networks = self._networks()
            for net_id, gateway in sorted(networks.items()):
                if net_id in self.handled:
                    continue
                if not self._try(gateway):  # not our address: find ours among the attached
                    for address in self._addresses_on(net_id):
                        self._try(address)
                self.handled.add(net_id)
        except Exception:  # the engine restarting or a network going away must not stop the
            log.exception("cannot listen on the project networks (next look in a few seconds)")

    def start(self, interval: float = 3.0) -> "GatewayListeners":
        self.refresh()
        PeriodicCallback(self.refresh, interval * 1000).start()
        return self


_HUB: GatewayListeners | None = None


_PUBLISH: "asyncio.Event | None" = None


def hub_listen_on_new_networks() -> None:
    """Called by the spawner right after it made a project's network: the hub API answers there
    before the container asks (the periodic look would, a few seconds later), and the network is
    published at once for the egress service (network_file)."""
    if _HUB is not None:
        _HUB.refresh()
    if _PUBLISH is not None:
        _PUBLISH.set()


async def _publish_networks(path, interval: float) -> None:
    """Keep the project networks file (network_file) current: every `interval`, or at once when
    the spawner made a network."""
    global _PUBLISH
    import docker

    from . import network_file

    _PUBLISH = asyncio.Event()
    client = None
    while True:
        try:
            client = client or docker.from_env()
            await asyncio.to_thread(network_file.publish, path, client)
        except Exception:  # the engine restarting must not stop the publishing
            log.exception("cannot publish the project networks (next try in a few seconds)")
            client = None
        try:
            await asyncio.wait_for(_PUBLISH.wait(), interval)
        except asyncio.TimeoutError:
            pass
        _PUBLISH.clear()


async def _hub_listeners(port: int, interval: float) -> None:
    global _HUB
    from jupyterhub.app import JupyterHub

    app = JupyterHub.instance()
    # JupyterHub makes its HTTP server (bound to loopback by hub_bind_url) at the end of start().
    while getattr(app, "http_server", None) is None:
        await asyncio.sleep(0.2)
    _HUB = GatewayListeners(app.http_server, port).start(interval)


def listen_on_gateways_when_hub_starts(port: int, interval: float = 3.0, networks_file=None) -> None:
    """From the hub's config (loaded inside its running event loop): add the gateway listeners
    once the hub has made its server, and publish the project networks to `networks_file`.
    Outside a running loop (a config read by a test) nothing."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.create_task(_hub_listeners(port, interval))
    if networks_file is not None:
        loop.create_task(_publish_networks(networks_file, interval))
