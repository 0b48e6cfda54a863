"""The dataset catalog: immutable published versions under $CIRN_HOME/datasets/<id>/<version>/.

A version is published when its folder holds manifest.json; publishing writes to a temporary
folder and renames it into place, so a half-written version never appears.
"""

from __future__ import annotations

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


def _version_key(version: str):
    # Numeric parts compare as numbers, so 1.10 sorts after 1.9.
    return [(0, int(p)) if p.isdigit() else (1, p) for p in version.replace("-", ".").split(".")]


class Catalog:
    def __init__(self, state: StateFolder):
        self.state = state

    def versions(self, dataset_id: str) -> list[DatasetVersion]:
        root = self.state.datasets / check_dataset_id(dataset_id)
        if not root.is_dir():
            return []
        found = [DatasetVersion(dataset_id, p.name, p) for p in root.iterdir()
                 if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith(".")]
        return sorted(found, key=lambda v: _version_key(v.version))

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
