"""Fixtures for the datasets unit tests: a state folder, an enclave, and tiny hand-made inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirn.enclave import Enclave
from cirn.state import StateFolder

from tiny_vcf_text import HEADER, RECORDS, write_bgzip

@pytest.fixture
def tiny_vcf(tmp_path) -> Path:
    return write_bgzip(tmp_path / "tiny.vcf.gz", HEADER + "\n".join(RECORDS) + "\n")


@pytest.fixture
def state(tmp_path) -> StateFolder:
    st = StateFolder(tmp_path / "home")
    st.ensure()
    return st


@pytest.fixture
def enclave(tmp_path, state) -> Enclave:
    env = {"CIRN_HOME": str(state.root)}
    enc = Enclave(state, None, env)
    enc.init()
    return enc


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from cirn.datasets.synth import synthesise
    out = tmp_path_factory.mktemp("synth")
    synthesise(out, 40, 600)
    return out
