"""Reproducing a project's pseudonym mapping (admin only): which source identifier is behind a pseudonym."""

from __future__ import annotations

import pyarrow.parquet as pq

from cirn.state import StateFolder

from .catalog import Catalog
from .pseudonyms import Pseudonymiser, project_key


def reidentify(state: StateFolder, slug: str, value: str) -> list[tuple[str, str, str]]:
    """(namespace, identifier, dataset) for every published identifier whose pseudonym is `value`."""
    ps = Pseudonymiser(project_key(state, slug, create=False))
    found = []
    for dv in Catalog(state).all_versions():
        m = dv.manifest
        if m.get("kind") == "clinical":
            idcols = [c for c in m["dictionary"] if c["role"] == "identifier"]
            if not idcols:
                continue
            t = pq.read_table(dv.path / m["tables"]["table"]["file"], columns=[c["name"] for c in idcols])
            for c in idcols:
                ns = c.get("namespace") or c["name"]
                for v in set(t.column(c["name"]).to_pylist()):
                    if v is not None and ps(ns, str(v)) == value:
                        found.append((ns, str(v), dv.ref))
        elif m.get("kind") == "vcf":
            for s in pq.read_table(dv.path / m["tables"]["samples"]["file"]).column("sample").to_pylist():
                if ps("sample", s) == value:
                    found.append(("sample", s, dv.ref))
        elif m.get("kind") in ("fastq", "bam"):
            for s in m.get("samples", []):
                if ps("sample", s) == value:
                    found.append(("sample", s, dv.ref))
    return sorted(set(found))
