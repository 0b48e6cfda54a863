"""The project networks as the hub sees them, in a file, for the services that may not ask Docker.

Asking the Docker engine is root's power (its socket starts any container), so the egress review
service, which runs as its own account in production (cirn.egress_access), reads the hub's view
instead: for each internal project network its id, gateway, address ranges and the addresses
attached to it (where the host does not own the gateway, one of those is ours: GatewayListeners).
The hub rewrites the file, atomically, when what it sees changes (every few seconds it looks);
a reader that finds no file sees no project network yet, and looks again.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

from .network import LABEL, _describe


def describe(client) -> list[dict]:
    """The internal project networks on this engine, as the file holds them."""
    found = []
    for net in client.networks.list(filters={"label": LABEL}, greedy=True):
        try:
            described = _describe(net)
        except RuntimeError:
            continue
        if not described.internal:  # a project network with a route out is never listened on
            continue
        configs = net.attrs.get("IPAM", {}).get("Config") or []
        attached = net.attrs.get("Containers") or {}
        found.append({
            "id": net.id,
            "gateway": described.gateway,
            "subnets": sorted(c["Subnet"] for c in configs if c.get("Subnet")),
            "addresses": sorted(c["IPv4Address"].split("/")[0] for c in attached.values() if c.get("IPv4Address")),
        })
    return sorted(found, key=lambda n: n["id"])


def publish(path: Path, client) -> bool:
    """Write what the engine shows if it differs from the file; True when written. Mode 0640:
    the egress account reads it through the folder's group (egress_access)."""
    body = json.dumps({"networks": describe(client)}, indent=1, sort_keys=True)
    try:
        if path.read_text() == body:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    os.chown(tmp, -1, path.parent.stat().st_gid)
    os.replace(tmp, path)
    return True


class PublishedNetworks:
    """The reader's side: the three questions GatewayListeners and origin.py ask of Docker."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> list[dict]:
        try:
            return json.loads(self.path.read_text())["networks"]
        except FileNotFoundError:
            return []

    def networks(self) -> dict[str, str]:
        return {n["id"]: n["gateway"] for n in self._read()}

    def addresses_on(self, network_id: str) -> list[str]:
        return next((n["addresses"] for n in self._read() if n["id"] == network_id), [])

    def subnets(self) -> list:
        """Raises FileNotFoundError before the hub's first publishing: the caller cannot tell
        inside from outside yet (origin.py then counts a proxied call as inside)."""
        networks = json.loads(self.path.read_text())["networks"]
        return [ipaddress.ip_network(s, strict=False) for n in networks for s in n["subnets"]]
