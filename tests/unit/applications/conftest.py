import pytest

from cirn.enclave import Enclave

from applications_testing import publish_clinical


@pytest.fixture
def enclave(tmp_path):
    e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home")})
    e.init()
    publish_clinical(e, tmp_path)
    return e
