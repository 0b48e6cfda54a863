"""What the egress service's own account may reach in the state folder, and nothing more.

In production the egress review service runs as its own unprivileged account (CIRN_EGRESS_USER,
made by the Ansible playbook; the hub, as root, starts it under that account). It reads and
writes the enclave database and the release store, appends audit events (chain key and anchor),
reads its cookie secret, the project networks the hub publishes, each project's identifier list
and the workspaces it copies files for release from. Each of those is opened to the account's
group; every other folder and secret (the pseudonym keys, the hub's and the proxy's secrets, the
dataset sources and extracts, the backups) stays root's alone, so a flaw in the service that is
reachable from every project network cannot read them.

One table, applied by StateFolder.ensure() (its folder rows mirrored by the playbook's
state_folder role; a unit test compares the two): (path under the state folder, mode). Paths missing are left
to be made by whoever makes them; a file is made here only when its maker would give it 0600.
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

# Folders the account walks through or works in (the state folder itself is ""), and the files
# it needs in them.
SHARED_FOLDERS: tuple[tuple[str, int], ...] = (
    ("", 0o710),  # walk in; list nothing
    ("db", 0o770),
    ("secrets", 0o710),
    ("audit", 0o770),
    ("egress", 0o2770),  # set-group-ID: what root writes there stays the account's group's
    ("egress/store", 0o2770),
    ("egress/outbox", 0o2770),
    ("projects", 0o710),
    ("run", 0o750),
)
SHARED_FILES: tuple[tuple[str, int], ...] = (
    ("db/cirn.sqlite", 0o660),
    ("db/cirn.sqlite-wal", 0o660),
    ("db/cirn.sqlite-shm", 0o660),
    ("secrets/audit-chain-key", 0o640),
    ("secrets/egress_cookie_secret", 0o640),
    ("audit/anchor.log", 0o660),
)
SHARED = SHARED_FOLDERS + SHARED_FILES
# Made here when missing, because their makers would give them 0600 (a secret, the anchor).
MADE_HERE = {"secrets/audit-chain-key", "secrets/egress_cookie_secret", "audit/anchor.log"}
# Each project's folder (identifier list) and workspace (files to release): readable, not writable.
PROJECT_FOLDER_MODE = 0o710
WORKSPACE_MODE = 0o2750  # owner (the container user) rwx; the account reads through the group, never writes
RELEASE_TREES = ("egress",)  # existing contents are given the group too


class EgressAccountMissing(ValueError):
    """CIRN_EGRESS_USER names no account on this host."""


def account_group(name: str) -> int:
    """The gid of the egress account's primary group, or a clear error naming the setting."""
    try:
        return pwd.getpwnam(name).pw_gid
    except KeyError:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            raise EgressAccountMissing(
                f"CIRN_EGRESS_USER={name!r} is not an account on this host: create it "
                "(useradd --system --no-create-home cirn-egress) or unset the variable") from None


def _set(path: Path, gid: int, mode: int) -> None:
    st = path.lstat()
    if st.st_gid != gid:
        os.chown(path, -1, gid, follow_symlinks=False)
    if (st.st_mode & 0o7777) != mode:
        path.chmod(mode)


def _share_tree(root: Path, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            _set(Path(dirpath) / name, gid, 0o2770)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o777
            _set(path, gid, mode | ((mode & 0o600) >> 3))  # the owner's read/write, for the group


def share_project(project: Path, gid: int) -> None:
    """A project's folder (its identifier list) to walk through, its workspace to read."""
    _set(project, gid, PROJECT_FOLDER_MODE)
    if (project / "workspace").is_dir():
        _set(project / "workspace", gid, WORKSPACE_MODE)


def paths(state) -> set[Path]:
    """The paths of SHARED in this state folder: ensure() leaves their modes to share()."""
    return {state.root / relative if relative else state.root for relative, _ in SHARED}


def share(state, name: str) -> None:
    """Open the folders and files of SHARED (and each project's folder and workspace) to the
    account's group. Root only: another account cannot change root's folders anyway."""
    gid = account_group(name)
    for relative, mode in SHARED:
        path = state.root / relative if relative else state.root
        if relative in MADE_HERE and not path.exists():
            if relative.startswith("secrets/"):
                state.secret(path.name)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if path.exists():
            _set(path, gid, mode)
    for relative in RELEASE_TREES:
        _share_tree(state.root / relative, gid)
    if state.projects.is_dir():
        for project in state.projects.iterdir():
            if project.is_dir() and not project.is_symlink():
                share_project(project, gid)
