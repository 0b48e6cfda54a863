"""cirn_admin_networks takes IPv4 and IPv6 networks, and names the entry that is neither.

Only the settings role runs (`--tags validate`), against the controller itself in check mode: it
changes nothing and needs no target.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .target import ANSIBLE_DIR, ANSIBLE_PLAYBOOK


def validate(tmp_path: Path, admin_networks) -> subprocess.CompletedProcess:
    cert, key, wheelhouse = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "cirn-wheelhouse-test.tar"
    for path in (cert, key, wheelhouse):
        path.write_text("")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("enclave:\n  hosts:\n    enclave-under-test:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({
        "cirn_wheelhouse_archive": str(wheelhouse), "cirn_tls_cert_src": str(cert), "cirn_tls_key_src": str(key),
        "cirn_oidc_issuer": "https://idp.example.org/realms/enclave", "cirn_oidc_client_id": "cirn-hub",
        "cirn_oidc_client_secret": "s3cret-value", "cirn_admin_networks": admin_networks,
        # required since backups are encrypted (the example inventory's placeholder public keys)
        "cirn_backup_recipients": ["age167xwj69qd44lkrj82fyrtgm54jau8dx3h6j4knmhq9jvzgced49shhchz9"],
        "cirn_backup_key_recipients": ["age1ew4me43w7jswd7aamf7hh0579ude4fhngj8hjenzqkvg4snxt9sskjsc8x"]}))
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), "site.yml", "--check", "--tags", "validate",
                           "-e", f"@{extra}"],
                          cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=300)


def test_ipv4_and_ipv6_admin_networks_pass(tmp_path):
    proc = validate(tmp_path, ["192.0.2.0/24", "2001:db8:1::/48", "fd00::1/128"])
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize(("networks", "named"), [
    (["2001:db8::/32", "2001:db8::g/64"], "cirn_admin_networks[1]"),  # not hexadecimal
    (["fe80::/129"], "cirn_admin_networks[0]"),  # prefix longer than 128
    (["192.0.2.0/24", "2001:db8::1"], "cirn_admin_networks[1]"),  # an address, not a network
])
def test_malformed_admin_network_is_named(tmp_path, networks, named):
    proc = validate(tmp_path, networks)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"{named} must be an IPv4 or IPv6 network" in proc.stdout, proc.stdout[-3000:]
