"""A running hub with two projects, for the spawner's integration tests."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid

import pytest

from cirn import projects
from cirn.enclave import Enclave

from cirn.hub.harness import new_hub, remove_test_objects


class World:
    """The enclave the hub tests run against: projects, members and extracts made directly."""

    def __init__(self, enclave: Enclave, prefix: str):
        self.enclave, self.prefix = enclave, prefix

    def slug(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def project(self, name: str, members: list[str], datasets: dict[str, dict[str, str]] | None = None,
                expires: dt.date | None = None) -> str:
        slug = self.slug(name)
        with self.enclave.db.session() as s:
            projects.create_project(s, "test", slug, f"Test {name}", expires or dt.date.today() + dt.timedelta(days=30))
            for m in members:
                projects.add_member(s, "test", slug, m)
            for ds in (datasets or {}):
                projects.grant(s, "test", slug, ds, "1")
        ws = self.enclave.state.project_workspace(slug)
        ws.mkdir(parents=True, exist_ok=True)
        os.chown(ws, 1000, 1000)
        for ds, files in (datasets or {}).items():
            folder = self.enclave.state.project_data(slug) / ds
            folder.mkdir(parents=True, exist_ok=True)
            for name_, text in files.items():
                (folder / name_).write_text(text)
                (folder / name_).chmod(0o444)
            folder.chmod(0o555)
        return slug

    def session(self):
        return self.enclave.db.session()


@pytest.fixture(scope="module")
def world(tmp_path_factory, docker_client, images):
    home = tmp_path_factory.mktemp("cirn-home")
    home.chmod(0o755)
    enclave = Enclave.from_env({"CIRN_HOME": str(home)})
    enclave.init()
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
