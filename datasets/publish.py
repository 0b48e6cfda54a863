"""Publishing a dataset version: build in a temporary folder, checksum, write the manifest, rename into place.

A version is either fully there (its folder holds manifest.json) or not there at all: the
temporary folder lives next to the final one (same filesystem, so the rename is atomic) and is
removed if anything fails. Published files are made read-only; an existing ID@V is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from cirn.errors import Conflict
from cirn.state import StateFolder, check_dataset_id

from .catalog import MANIFEST, Catalog, DatasetVersion

VERSION_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def tool_version() -> str:
    try:
        from importlib.metadata import version
        return f"cirn {version('cirn')}"
    except Exception:  # running from a source tree that is not installed
        return "cirn (source)"


def check_version(version: str) -> str:
    if not version or not set(version) <= VERSION_CHARS or version.startswith(".") or len(version) > 63:
        raise ValueError(f"version {version!r} is not valid: use up to 63 letters, digits, '.', '_' and '-', "
                         "not starting with '.'")
    return version


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path) -> dict:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def walk_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def make_read_only(root: Path) -> None:
    """Files 0444 and folders 0555: readable by anyone (the container's uid too), writable by no one."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555)
    os.chmod(root, 0o555)


def make_writable(root: Path) -> None:
    """Undo make_read_only on folders so that a tree can be removed by its owner."""
    if not root.exists():
        return
    os.chmod(root, 0o755)
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)


def remove_tree(root: Path) -> None:
    if root.is_symlink() or root.is_file():
        root.unlink()
        return
    make_writable(root)
    shutil.rmtree(root, ignore_errors=False)


@dataclass
class Draft:
    """A version being built: write files under `path`, fill `meta`, then it is published on exit."""

    dataset_id: str
    version: str
    kind: str
    path: Path
    inputs: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def add_input(self, source: Path) -> dict:
        entry = {"name": source.name, "path": str(source.resolve()), **file_entry(source)}
        self.inputs.append(entry)
        return entry


@contextmanager
def draft_version(state: StateFolder, dataset_id: str, version: str, kind: str,
                  source_project: str | None = None) -> Iterator[Draft]:
    """Yield a Draft in a temporary folder; on normal exit publish it, on error remove it."""
    check_dataset_id(dataset_id)
    check_version(version)
    catalog = Catalog(state)
    final = state.datasets / dataset_id / version
    if catalog.exists(dataset_id, version) or final.exists():
        raise Conflict(f"dataset {dataset_id}@{version} is already published and versions are immutable; "
                       "ingest under a new --version")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    draft = Draft(dataset_id, version, kind, tmp)
    try:
        yield draft
        manifest = {
            "dataset_id": dataset_id,
            "version": version,
            "kind": kind,
            "provenance": {
                "source_project": source_project,
                "ingested_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "tool_version": tool_version(),
                "inputs": draft.inputs,
            },
            **draft.meta,
            "files": {str(p.relative_to(tmp)): file_entry(p) for p in walk_files(tmp)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str), encoding="utf-8")
        make_read_only(tmp)
        try:
            # rename() onto an existing empty folder would succeed on Linux; refuse explicitly.
            if final.exists():
                raise Conflict(f"dataset {dataset_id}@{version} was published by someone else meanwhile")
            os.rename(tmp, final)
        except OSError as exc:
            raise Conflict(f"could not publish {dataset_id}@{version}: {exc}") from None
    except BaseException:
        if tmp.exists():
            remove_tree(tmp)
        raise
    return None


def published(state: StateFolder, dataset_id: str, version: str) -> DatasetVersion:
    return Catalog(state).resolve(dataset_id, version)
