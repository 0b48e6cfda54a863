import pytest

from cirn.enclave import Enclave


@pytest.fixture
def enclave(tmp_path):
    e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home")})
    e.init()
    return e
