"""What a VCF extract that leaves samples out (withdrawn, failed QC) changes in its variants table:
INFO values the caller computed over every sample, recounted over the extract's own samples.

The counts come from the catalog's own genotypes (its `carriers` table, or the dense `genotypes`
for a version without one), read for the kept samples only. They never depend on which genotype
columns the grant includes: a grant of `gt` without `dosage`, or of sites alone with `info_ac`,
gets the counts of its own samples just as a grant of everything does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .vcf import GENOTYPES
from .vcf_genotypes import CARRIERS


@dataclass(frozen=True)
class KeptCounts:
    """Per variant row with any carriers-table row (sorted by key), over the kept samples only.

    A row absent from `keys` has only homozygous-reference calls: AC 0, nothing missing.
    """

    kept: int                # how many samples the extract keeps
    keys: np.ndarray         # variant_key, sorted
    ac: np.ndarray           # copies of the row's ALT allele among the kept samples
    missing: np.ndarray      # kept samples whose call is missing

    def at(self, variant_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(AC, AN) of these variant rows; AN = 2 x (kept samples - missing calls), as everywhere in cirn."""
        ac = np.zeros(len(variant_keys), dtype=np.int64)
        missing = np.zeros(len(variant_keys), dtype=np.int64)
        if len(self.keys):
            i = np.minimum(np.searchsorted(self.keys, variant_keys), len(self.keys) - 1)
            found = self.keys[i] == variant_keys
            ac[found], missing[found] = self.ac[i[found]], self.missing[i[found]]
        return ac, (2 * (self.kept - missing)).astype(np.int64)


def kept_counts(version: Path, samples: list[str], keep: np.ndarray) -> KeptCounts:
    """Allele counts of the kept samples (`keep[i]` for `samples[i]`) from the catalog version's genotypes."""
    import duckdb
    table = CARRIERS if any((version / CARRIERS).glob("*/*.parquet")) else GENOTYPES
    gone = pa.table({"sample": pa.array([s for s, k in zip(samples, keep) if not k], pa.string())})
    con = duckdb.connect()
    try:
        con.register("gone", gone)
        rows = con.sql(f"""
            SELECT variant_key, coalesce(sum(dosage), 0)::BIGINT AS ac, count(*) FILTER (WHERE dosage IS NULL) AS missing
            FROM read_parquet('{version}/{table}/*/*.parquet')
            WHERE sample NOT IN (SELECT sample FROM gone)
            GROUP BY variant_key ORDER BY variant_key""").to_arrow_table()
    finally:
        con.close()
    return KeptCounts(int(keep.sum()), rows.column("variant_key").to_numpy(),
                      rows.column("ac").to_numpy(), rows.column("missing").to_numpy())


RECOUNTED = ("info_ac", "info_an", "info_af")


def recount(variants: pa.Table, counts: KeptCounts) -> pa.Table:
    """`variants` with INFO AC/AN/AF (those it has) recounted from `counts`, each in its own column type."""
    ac, an = counts.at(variants.column("variant_key").to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        af = pa.array(np.where(an > 0, ac / np.maximum(an, 1), np.nan), pa.float64(), mask=an == 0)
    new = {"info_ac": pa.array(ac, pa.int64()), "info_an": pa.array(an, pa.int64()), "info_af": af}
    for name, values in new.items():
        if name in variants.column_names:
            i = variants.schema.get_field_index(name)
            variants = variants.set_column(i, name, values.cast(variants.schema.field(i).type))
    return variants
