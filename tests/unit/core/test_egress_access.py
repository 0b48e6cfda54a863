"""With an egress account, the state folder opens to its group what the egress service needs
(database, audit anchor and chain key, its cookie secret, the release store, the published
networks, each project's folder and workspace to read) and nothing else: the other secrets,
the datasets and the hub's own files stay root's."""

from __future__ import annotations

import grp
import os
import stat
import subprocess

import pytest

from cirn.egress_access import EgressAccountMissing, account_group
from cirn.state import StateFolder

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving folders to a group needs root")
ACCOUNT = "nobody"


@pytest.fixture
def open_tmp():
    """A folder the account may walk into (pytest's tmp_path sits in a root-only folder)."""
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="cirn-egress-access-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def mode(path):
    st = path.lstat()
    return stat.S_IMODE(st.st_mode), grp.getgrgid(st.st_gid).gr_name


def test_the_egress_account_reaches_what_its_service_needs_and_nothing_else(open_tmp):
    state = StateFolder(open_tmp / "state", ACCOUNT)
    state.ensure()
    state.ensure_private_file(state.db_path)
    state.secret("pseudonym-key")
    state.secret("jupyterhub_crypt_key")
    ws = state.create_workspace("lung-study")
    (ws / "result.csv").write_text("region,n\nSeoul,120\n")
    (ws / "result.csv").chmod(0o644)
    (state.datasets / "source.vcf").write_text("##fileformat=VCFv4.2\n")
    group = grp.getgrgid(account_group(ACCOUNT)).gr_name

    assert mode(state.root) == (0o710, group)
    assert mode(state.db_path) == (0o660, group)
    assert mode(state.secrets / "audit-chain-key") == (0o640, group)
    assert mode(state.secrets / "egress_cookie_secret") == (0o640, group)
    assert mode(state.secrets / "pseudonym-key")[0] == 0o600
    assert mode(state.audit_anchor) == (0o660, group)
    assert mode(state.egress_store) == (0o2770, group)
    assert mode(ws) == (0o2750, group) and ws.stat().st_uid == 1000
    assert mode(state.hub) == (0o700, "root") and mode(state.datasets) == (0o700, "root")

    def can_read(path) -> bool:
        return subprocess.run(["/bin/cat", str(path)], user=ACCOUNT, group=group, extra_groups=[],
                              capture_output=True).returncode == 0

    assert can_read(ws / "result.csv") and can_read(state.secrets / "egress_cookie_secret")
    assert can_read(state.db_path)
    assert not can_read(state.secrets / "pseudonym-key")
    assert not can_read(state.secrets / "jupyterhub_crypt_key")
    assert not can_read(state.datasets / "source.vcf")
    # the account may not write into the workspace it releases from
    probe = subprocess.run(["/bin/touch", str(ws / "planted")], user=ACCOUNT, group=group, extra_groups=[],
                           capture_output=True)
    assert probe.returncode != 0


def test_ensure_is_idempotent_and_keeps_modes_across_runs(tmp_path):
    state = StateFolder(tmp_path / "state", ACCOUNT)
    state.ensure()
    state.create_workspace("lung-study")
    before = {p: mode(p) for p in state.root.rglob("*")}
    state.ensure()
    assert {p: mode(p) for p in state.root.rglob("*")} == before


def test_without_an_egress_account_every_folder_stays_roots_alone(tmp_path):
    state = StateFolder(tmp_path / "state")
    state.ensure()
    ws = state.create_workspace("lung-study")
    for folder in (state.root, state.db_path.parent, state.secrets, state.egress_store, state.projects):
        assert mode(folder) == (0o700, "root")
    assert mode(ws)[0] == 0o770


def test_an_egress_account_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(EgressAccountMissing, match="CIRN_EGRESS_USER='cirn-no-such'"):
        StateFolder(tmp_path / "state", "cirn-no-such").ensure()
