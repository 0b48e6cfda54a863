"""Fixtures shared by the integration and browser tests: a real Docker engine and the project's images."""

from __future__ import annotations

import docker
import pytest


@pytest.fixture(scope="session")
def docker_client():
    client = docker.from_env()
    client.ping()  # fail loudly: integration tests need a real engine (make test starts one)
    return client


@pytest.fixture(scope="session")
def images(docker_client):
    from cirn.images.build import build_all
    return build_all(progress=lambda m: print(f"images: {m}"))
