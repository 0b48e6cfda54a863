"""The playbook checks its variables before it changes anything, and names the wrong one.

Only the settings role runs (`--tags validate`), against the controller itself in check mode, so
these tests change nothing and need no target host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_DIR = Path(__file__).resolve().parents[3] / "ansible"
DATA_RECIPIENT = "age167xwj69qd44lkrj82fyrtgm54jau8dx3h6j4knmhq9jvzgced49shhchz9"
KEY_RECIPIENT = "age1ew4me43w7jswd7aamf7hh0579ude4fhngj8hjenzqkvg4snxt9sskjsc8x"


@pytest.fixture
def good_vars(tmp_path) -> dict:
    wheelhouse = tmp_path / "cirn-wheelhouse-test.tar"
    wheelhouse.write_bytes(b"")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    return {"cirn_wheelhouse_archive": str(wheelhouse), "cirn_tls_cert_src": str(cert), "cirn_tls_key_src": str(key),
            "cirn_oidc_issuer": "https://idp.example.org/realms/enclave", "cirn_oidc_client_id": "cirn-hub",
            "cirn_oidc_client_secret": "s3cret-value", "cirn_dataset_dirs": [str(tmp_path)],
            "cirn_backup_recipients": [DATA_RECIPIENT], "cirn_backup_key_recipients": [KEY_RECIPIENT]}


def validate(tmp_path: Path, extra: dict) -> subprocess.CompletedProcess:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("enclave:\n  hosts:\n    enclave-under-test:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n")
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    playbook = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run([str(playbook), "-i", str(inventory), "site.yml", "--check", "--tags", "validate",
                           "-e", f"@{extra_file}"], cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=300)


def test_good_settings_pass(tmp_path, good_vars):
    proc = validate(tmp_path, good_vars)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "changed=0" in proc.stdout


# One case per kind of mistake (each run of ansible-playbook costs seconds): an unknown dataset
# path, a missing certificate, malformed inventory values, a combination that is refused.
@pytest.mark.parametrize(("change", "named"), [
    ({"cirn_dataset_dirs": ["/nonexistent/cirn-source-data"]}, "cirn_dataset_dirs[0]"),
    ({"cirn_tls_cert_src": "/nonexistent/cert.pem"}, "cirn_tls_cert_src"),
    ({"cirn_public_port": "https"}, "cirn_public_port"),
    ({"cirn_project_address_pool": "10.213.0.0"}, "cirn_project_address_pool"),
    ({"cirn_admin_networks": ["10.0.0.0/8", "300.1.1.1/32"]}, "cirn_admin_networks"),
    ({"cirn_authenticator": "demo", "cirn_public_ip": "0.0.0.0"}, "cirn_authenticator"),
    ({"cirn_backup_key_recipients": [DATA_RECIPIENT]}, "cirn_backup_key_recipients"),  # keys not kept apart
])
def test_wrong_setting_fails_early_naming_it(tmp_path, good_vars, change, named):
    proc = validate(tmp_path, {**good_vars, **change})
    assert proc.returncode != 0, proc.stdout[-3000:]
    failed = [line for line in proc.stdout.splitlines() if "msg" in line or "fatal" in line or "failed" in line]
    assert named in proc.stdout, "\n".join(failed)[-3000:]
