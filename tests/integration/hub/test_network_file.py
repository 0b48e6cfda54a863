"""The hub publishes the project networks in a file for the egress service, which may not ask
Docker (cirn.hub.network_file): against the real engine, an internal project network appears
there with its gateway and range, a network with a route out never does, and a removed one goes."""

from __future__ import annotations

import ipaddress
import secrets
import stat

import pytest

from cirn.hub.network import LABEL
from cirn.hub.network_file import PublishedNetworks, publish

pytestmark = [pytest.mark.docker]


@pytest.fixture
def networks(docker_client):
    made = []

    def make(internal: bool):
        slug = f"netfile-{secrets.token_hex(3)}"
        net = docker_client.networks.create(f"cirn-proj-{slug}", driver="bridge", internal=internal,
                                            labels={LABEL: slug})
        made.append(net)
        net.reload()
        return net

    yield make
    for net in made:
        try:
            net.remove()
        except Exception:
            pass


def test_published_networks_follow_the_engine(tmp_path, docker_client, networks):
    path = tmp_path / "run" / "project-networks.json"
    reader = PublishedNetworks(path)
    with pytest.raises(FileNotFoundError):
        reader.subnets()  # before the first publishing nobody can tell inside from outside
    assert reader.networks() == {}

    inside, routed = networks(internal=True), networks(internal=False)
    assert publish(path, docker_client) is True
    assert publish(path, docker_client) is False  # nothing changed: not rewritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o640

    config = inside.attrs["IPAM"]["Config"][0]
    assert reader.networks().get(inside.id) == config["Gateway"]
    assert routed.id not in reader.networks()
    assert ipaddress.ip_network(config["Subnet"]) in reader.subnets()

    inside.remove()
    assert publish(path, docker_client) is True
    assert inside.id not in reader.networks()
