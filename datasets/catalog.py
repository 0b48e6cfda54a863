"""The dataset catalog: immutable published versions under $CIRN_HOME/datasets/<id>/<version>/.

A version is published when its folder holds manifest.json; publishing (cirn.datasets.publish)
writes to a temporary folder and renames it into place, so a half-written version never appears.
The manifest records kind, provenance, schema and the sha256 of every file; `verify` recomputes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cirn.errors import NotFound
from cirn.state import StateFolder, check_dataset_id

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DatasetVersion:
    dataset_id: str
    version: str
    path: Path

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    @property
    def ref(self) -> str:
        return f"{self.dataset_id}@{self.version}"

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "unknown")


@dataclass(frozen=True)
class FileProblem:
    """One file whose content no longer matches the manifest."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _version_key(version: str):
    # Numeric parts compare as numbers, so 1.10 sorts after 1.9.
    return [(0, int(p)) if p.isdigit() else (1, p) for p in version.replace("-", ".").split(".")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Catalog:
    def __init__(self, state: StateFolder):
        self.state = state

    def dataset_ids(self) -> list[str]:
        root = self.state.datasets
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and self.versions(p.name))

    def all_versions(self) -> list[DatasetVersion]:
        return [v for d in self.dataset_ids() for v in self.versions(d)]

    def versions(self, dataset_id: str) -> list[DatasetVersion]:
        root = self.state.datasets / check_dataset_id(dataset_id)
        if not root.is_dir():
            return []
        found = [DatasetVersion(dataset_id, p.name, p) for p in root.iterdir()
                 if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith(".")]
        return sorted(found, key=lambda v: _version_key(v.version))

    def exists(self, dataset_id: str, version: str) -> bool:
        return (self.state.datasets / check_dataset_id(dataset_id) / version / MANIFEST).is_file()

    def resolve(self, dataset_id: str, version: str | None = None) -> DatasetVersion:
        versions = self.versions(dataset_id)
        if not versions:
            raise NotFound(f"dataset {dataset_id!r} is not in the catalog (see `cirn datasets list`)")
        if version is None:
            return versions[-1]
        for v in versions:
            if v.version == version:
                return v
        raise NotFound(f"dataset {dataset_id!r} has no version {version!r}; published: "
                       + ", ".join(v.version for v in versions))

    def resolve_ref(self, ref: str) -> DatasetVersion:
        """'cohort@1.0' or 'cohort' (newest) to a published version."""
        dataset_id, _, version = ref.partition("@")
        return self.resolve(dataset_id, version or None)

    def verify(self, dv: DatasetVersion, progress=None, quick: bool = False) -> list[FileProblem]:
        """Recompute every checksum in the manifest; name each file that changed, vanished or appeared.

        `quick` compares sizes only (cheap enough to run before every provisioning, even for BAMs).
        """
        listed: dict = dv.manifest.get("files", {})
        problems: list[FileProblem] = []
        for rel, entry in sorted(listed.items()):
            path = dv.path / rel
            if not path.is_file():
                problems.append(FileProblem(rel, "is missing"))
            elif path.stat().st_size != entry["size"]:
                problems.append(FileProblem(rel, f"size changed ({entry['size']} -> {path.stat().st_size} bytes)"))
            elif not quick and _sha256(path) != entry["sha256"]:
                problems.append(FileProblem(rel, "content changed (sha256 differs from the manifest)"))
            if progress:
                progress(rel)
        present = {str(p.relative_to(dv.path)) for p in dv.path.rglob("*") if p.is_file()} - {MANIFEST}
        for rel in sorted(present - set(listed)):
            problems.append(FileProblem(rel, "is not in the manifest (added after publishing)"))
        return problems
