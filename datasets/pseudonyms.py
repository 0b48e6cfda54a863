"""Project-specific pseudonyms: keyed HMAC-SHA256 of (namespace, identifier) with a per-project key.

The key lives in $CIRN_HOME/secrets/pseudonym-keys/<slug>.key (owner-only), never in a project
folder or a container. The same identifier gets the same pseudonym everywhere in one project (so
a clinical sample_id still joins the genotypes), different pseudonyms in different projects, and
without the key the mapping can be neither computed nor reversed; an admin holding the key can
reproduce it (`cirn datasets pseudonym`, `cirn datasets reidentify`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cirn.state import StateFolder, check_slug

PREFIX = {"participant": "P", "sample": "S", "family": "F"}
KEY_BYTES = 32


def key_path(state: StateFolder, slug: str) -> Path:
    return state.secrets / "pseudonym-keys" / f"{check_slug(slug)}.key"


def project_key(state: StateFolder, slug: str, create: bool = True) -> bytes:
    """The project's key, created (0600, in a 0700 folder) on first use."""
    path = key_path(state, slug)
    if path.is_file():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        from cirn.errors import NotFound
        raise NotFound(f"project {slug!r} has no pseudonym key yet (it was never provisioned)")
    state.secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(state.secrets, 0o700)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    try:
        os.link(tmp, path)  # fails if another process created it meanwhile: then use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def pseudonym(key: bytes, namespace: str, value: str) -> str:
    """e.g. ('sample', 'SMP000001') -> 'S-4KQ2M7Z3XW9D5HTA' (80 bits of the HMAC, base32)."""
    mac = hmac.new(key, f"{namespace}\x00{value}".encode("utf-8"), hashlib.sha256).digest()
    code = base64.b32encode(mac[:10]).decode("ascii")
    return f"{PREFIX.get(namespace, 'X')}-{code}"


class Pseudonymiser:
    """Pseudonyms for one project, memoised (tables repeat the same identifiers many times)."""

    def __init__(self, key: bytes):
        self._key = key
        self._memo: dict[tuple[str, str], str] = {}

    def __call__(self, namespace: str, value: str | None) -> str | None:
        if value is None:
            return None
        k = (namespace, str(value))
        out = self._memo.get(k)
        if out is None:
            out = self._memo[k] = pseudonym(self._key, namespace, str(value))
        return out

    def issued(self) -> set[str]:
        """Every pseudonym handed out so far (for the egress checks' identifier list)."""
        return set(self._memo.values())

    def rank(self, label: str) -> str:
        """A project-specific sort key, so row order does not line up across projects."""
        return hmac.new(self._key, f"order\x00{label}".encode(), hashlib.sha256).hexdigest()
