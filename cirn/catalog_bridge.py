"""What the project tool needs of the dataset catalog: resolving DATASET[@VERSION] to a published version."""

from __future__ import annotations

from cirn.datasets.catalog import Catalog

from .enclave import Enclave


def resolve_dataset(enclave: Enclave, dataset_id: str, version: str | None) -> str:
    """The version to grant: the one named (which must be published) or the newest published."""
    return Catalog(enclave.state).resolve(dataset_id, version).version
