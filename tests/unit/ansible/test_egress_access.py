"""The playbook opens to the egress account the same folders, with the same modes, as
cirn.egress_access gives them when the enclave starts: otherwise each hub start would undo the
playbook (and its second run would change things back)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cirn import egress_access

ROLE = Path(__file__).resolve().parents[3] / "ansible" / "roles"


def test_playbook_and_enclave_open_the_same_folders_to_the_egress_account():
    folders = yaml.safe_load((ROLE / "state_folder" / "vars" / "main.yml").read_text())["state_folder_egress_folders"]
    playbook = {row["path"]: int(row["mode"], 8) for row in folders}
    defaults = yaml.safe_load((ROLE / "cirn" / "defaults" / "main.yml").read_text())
    playbook[""] = int(defaults["cirn_home_mode"], 8)
    assert playbook == dict(egress_access.SHARED_FOLDERS)
    assert defaults["cirn_egress_user"] not in ("", "root")
