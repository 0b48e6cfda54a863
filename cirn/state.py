"""The runtime state folder ($CIRN_HOME) and the paths inside it.

Everything the enclave keeps lives under one folder, so that a backup, a restore or a test
fixture is one path. Paths are computed when asked for, never at import time.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".cirn"
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
DATASET_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class InvalidName(ValueError):
    """A user-chosen name (project slug, dataset id) that the enclave cannot accept."""


def check_slug(slug: str) -> str:
    """Return `slug` if it is a valid project slug, else raise InvalidName saying what is allowed.

    Slugs become Docker network names, container names, folder names and JupyterHub server
    names, so they are kept to a form that is safe in all four.
    """
    if not SLUG_RE.match(slug or ""):
        raise InvalidName(
            f"project slug {slug!r} is not valid: use 3-40 characters, lower-case letters, digits "
            "and '-', starting with a letter and ending with a letter or digit"
        )
    return slug


def check_dataset_id(dataset_id: str) -> str:
    """Return `dataset_id` if valid, else raise InvalidName saying what is allowed."""
    if not DATASET_ID_RE.match(dataset_id or ""):
        raise InvalidName(
            f"dataset id {dataset_id!r} is not valid: use up to 63 lower-case letters, digits, "
            "'_' and '-', starting with a letter"
        )
    return dataset_id


@dataclass(frozen=True)
class StateFolder:
    """The enclave's state folder and the layout fixed in ARCHITECTURE.md."""

    root: Path
    # The account the egress service runs as (production), whose group ensure() gives the folders
    # that service needs (cirn.egress_access); None: every service runs as root, folders stay 0700.
    egress_user: str | None = None

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> "StateFolder":
        env = os.environ if environ is None else environ
        return cls(Path(env.get("CIRN_HOME", DEFAULT_HOME)).resolve(), env.get("CIRN_EGRESS_USER") or None)

    @property
    def db_path(self) -> Path:
        return self.root / "db" / "cirn.sqlite"

    def db_url(self, environ: os._Environ | dict | None = None) -> str:
        """The database URL: CIRN_DB_URL (for PostgreSQL) or SQLite inside the state folder."""
        env = os.environ if environ is None else environ
        return env.get("CIRN_DB_URL") or f"sqlite:///{self.db_path}"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def projects(self) -> Path:
        return self.root / "projects"

    def project_dir(self, slug: str) -> Path:
        return self.projects / check_slug(slug)

    def project_data(self, slug: str) -> Path:
        """Where the project's read-only extracts are built, one folder per granted dataset."""
        return self.project_dir(slug) / "data"

    def project_workspace(self, slug: str) -> Path:
        """The project's shared read-write area, mounted at /home/jovyan/project."""
        return self.project_dir(slug) / "workspace"

    @property
    def egress_store(self) -> Path:
        return self.root / "egress" / "store"

    @property
    def egress_outbox(self) -> Path:
        return self.root / "egress" / "outbox"

    @property
    def audit(self) -> Path:
        return self.root / "audit"

    @property
    def audit_anchor(self) -> Path:
        """The audit chain's anchor outside the database: one "seq mac" line per event (cirn.audit)."""
        return self.audit / "anchor.log"

    @property
    def project_networks_file(self) -> Path:
        """The project networks as the hub sees them, for services that may not ask Docker (cirn.hub.network_file)."""
        return self.root / "run" / "project-networks.json"

    @property
    def hub(self) -> Path:
        """JupyterHub's own runtime files (its database, cookie secret, proxy pid)."""
        return self.root / "hub"

    def secret(self, name: str, nbytes: int = 32) -> str:
        """A secret (hex) kept in secrets/<name>, made on first use, so that restarts reuse it.

        Written to a temporary name of this process's, readable by the owner only, and linked
        into place: when two processes make it at once, both end up with the one that was first
        (a rename would let the second replace a key the first already uses).
        """
        path = self.secrets / name
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(nbytes))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()

    def ensure(self) -> None:
        """Create the folders of the layout, every one of them (and the root) for the owner only.

        Explicit modes rather than a process umask: the hub and the services run threads that
        write files of their own meanwhile. Containers do not need the host path to be open:
        the engine (root) binds the extract and workspace folders themselves, whose own modes
        (0444/0555 extracts, a workspace owned by uid 1000) are what the container user sees.
        Existing folders are brought to 0700 too, so an older, world-readable state folder is closed.
        With an egress account (egress_user), the folders that service needs are then opened to
        its group (cirn.egress_access). A process that does not own the folder (that service
        itself, starting) leaves the modes to root.
        """
        from . import egress_access

        shared = egress_access.paths(self) if self.egress_user and os.geteuid() == 0 else set()
        for path in (self.root, self.db_path.parent, self.secrets, self.datasets, self.projects,
                     self.egress_store.parent, self.egress_store, self.egress_outbox, self.audit, self.hub,
                     self.project_networks_file.parent):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._owned(path) and path not in shared:
                path.chmod(0o700)
        if shared:
            egress_access.share(self, self.egress_user)

    @staticmethod
    def _owned(path: Path) -> bool:
        return os.geteuid() in (0, path.stat().st_uid)

    def create_workspace(self, slug: str) -> Path:
        """The project's shared read-write folder, owned by the container user (uid 1000), who
        writes there for every member; with an egress account, readable by its group (set-group-ID,
        so files researchers make there stay readable for release). Not root: left as made (tests)."""
        ws = self.project_workspace(slug)
        ws.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return ws
        os.chown(ws, 1000, 1000)
        if self.egress_user:
            from .egress_access import account_group, share_project
            share_project(self.project_dir(slug), account_group(self.egress_user))
        else:
            ws.chmod(0o770)
        return ws

    def ensure_private_file(self, path: Path) -> None:
        """Create `path` empty with mode 0600 if missing (before a library creates it with 0644), or
        bring an existing one to 0600. SQLite gives its -wal and -shm files the database's mode."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        if self.egress_user and os.geteuid() == 0:
            from .egress_access import share
            share(self, self.egress_user)  # the database is shared with the egress account's group
        elif self._owned(path):
            path.chmod(0o600)
