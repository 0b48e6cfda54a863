"""A running hub with two projects, for the spawner's integration tests."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import pytest

from cirn.enclave import Enclave
from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects


class World:
    """The enclave the hub tests run against: projects, members and extracts made directly."""

    def __init__(self, enclave: Enclave, prefix: str):
        self.enclave, self.prefix = enclave, prefix

    def slug(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def project(self, name: str, members: list[str], datasets: dict[str, dict[str, str]] | None = None,
                expires: dt.date | None = None) -> str:
        slug = self.slug(name)
        add_project(self.enclave, slug, f"Test {name}", members, extracts=datasets, expires=expires)
        return slug

    def session(self):
        return self.enclave.db.session()


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    enclave = fresh_enclave(tmp_path_factory.mktemp("cirn-home"))
    prefix = "t" + uuid.uuid4().hex[:6]
    w = World(enclave, prefix)
    yield w
    remove_test_objects(docker_client, prefix)


@pytest.fixture(scope="module")
def hub(world, docker_client):
    h = new_hub(world.enclave.state.root, reconcile_interval=3)
    h.start()
    yield h
    h.stop()
    remove_test_objects(docker_client, world.prefix)


@pytest.fixture
def username():
    return "u" + secrets.token_hex(3)
