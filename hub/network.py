"""Per-project Docker networks: one `--internal` bridge per project, named cirn-proj-<slug>.

An internal network has no route off the host: its containers reach each other and the host's
address on the network's gateway (where the hub API listens), nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import docker
from docker.errors import APIError, NotFound

PREFIX = "cirn-proj-"
LABEL = "org.cirn.project"


def network_name(slug: str) -> str:
    return f"{PREFIX}{slug}"


@dataclass(frozen=True)
class ProjectNetwork:
    name: str
    gateway: str
    internal: bool


def _describe(net) -> ProjectNetwork:
    attrs = net.attrs
    configs = attrs.get("IPAM", {}).get("Config") or []
    gateway = next((c.get("Gateway") for c in configs if c.get("Gateway")), None)
    if not gateway:
        raise RuntimeError(f"docker network {net.name} has no gateway address; remove it and start again")
    return ProjectNetwork(net.name, gateway, bool(attrs.get("Internal")))


def ensure_project_network(client: docker.DockerClient, slug: str) -> ProjectNetwork:
    """Create the project's internal network if missing; refuse one that is not internal."""
    name = network_name(slug)
    try:
        net = client.networks.get(name)
    except NotFound:
        try:
            net = client.networks.create(name, driver="bridge", internal=True, labels={LABEL: slug},
                                         options={"com.docker.network.bridge.enable_icc": "true"})
        except APIError as exc:
            if exc.status_code != 409:  # 409: created meanwhile by a concurrent spawn
                raise
            net = client.networks.get(name)
    described = _describe(client.networks.get(net.id))
    if not described.internal:
        # Fail closed: a same-named network with a route out must never carry a project.
        raise RuntimeError(f"docker network {name} exists but is not internal; remove it (docker network rm {name})")
    return described
