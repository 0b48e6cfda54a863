"""The genotype matrix read back as GT text, to hold it to the long genotypes table in tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from cirn.datasets.vcf_genotypes import gt_text


def matrix_calls(version: Path) -> dict[tuple[int, str], str | None]:
    """(variant_key, sample) -> GT text from `matrix/`, samples named by samples.parquet; None where
    the row's alleles are null."""
    samples = pq.read_table(version / "samples.parquet").column("sample").to_pylist()
    out = {}
    for f in sorted(version.glob("matrix/chrom=*/*.parquet")):
        for row in pq.read_table(f).to_pylist():
            if row["alleles"] is None:
                out.update({(row["variant_key"], s): None for s in samples})
                continue
            alleles = np.frombuffer(row["alleles"], np.int8).reshape(-1, 2)
            phased = np.frombuffer(row["phased"], np.int8)
            assert len(alleles) == len(phased) == len(samples)
            for s, (a1, a2), ph in zip(samples, alleles.tolist(), phased.tolist()):
                out[(row["variant_key"], s)] = gt_text(a1, a2, ph)
    return out


def genotype_calls(version: Path) -> dict[tuple[int, str], str]:
    """(variant_key, sample) -> GT text from the long genotypes table."""
    out = {}
    for f in sorted(version.glob("genotypes/chrom=*/*.parquet")):
        t = pq.read_table(f, columns=["variant_key", "sample", "gt"]).to_pydict()
        out.update({(k, s): g for k, s, g in zip(t["variant_key"], t["sample"], t["gt"])})
    return out
