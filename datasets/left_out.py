"""What a VCF extract that leaves samples out (withdrawn, failed QC) changes in its variants: rows
only those samples carry are dropped, and values the caller computed over every sample are
recounted over the extract's own samples or left out.

Per INFO field (and QUAL), decided by what the value is computed from:
- recounted from the kept samples' calls: AC, AN, AF (AN = 2 x called samples, as everywhere in
  cirn), NS (kept samples with a called genotype), and DP as the sum of the kept samples'
  FORMAT/DP (a version without FORMAT/DP cannot, so there DP is left out);
- kept as they are: fields that describe the site or its allele whoever carries it (SITE_INFO:
  structural-variant geometry, the ancestral allele, database membership, consequence
  annotations), plus those the policy names (`qc.extracts.site_info_fields`, e.g. `CLN*`);
- left out (null) otherwise: QUAL and fields such as MQ, QD, FS, SOR, the rank-sum tests, VQSLOD,
  InbreedingCoeff, ExcessHet, HWE, MLEAC come from every sample's reads or likelihoods, which the
  extract cannot redo, and a field nobody classified may be one of them (fails closed).
FILTER is kept: it is the source pipeline's pass/fail decision on the site, needed to use the data
at all, and says no more about one sample than the row's presence does.

The counts come from the catalog's own genotypes (its `carriers` table, or the dense `genotypes`
for a version without one), read for the kept samples only; DP is summed while the extract copies
the catalog's genotypes (they are read whole anyway: a second scan of them cost a third more time).
None of it depends on which genotype columns the grant includes: a grant of `gt` without `dosage`,
or of sites alone with `info_ac`, gets the counts of its own samples just as a grant of everything does.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .vcf import GENOTYPES
from .vcf_genotypes import CARRIERS

RECOUNTED_INFO = ("AC", "AN", "AF", "NS", "DP")
SITE_INFO = frozenset({"END", "SVTYPE", "SVLEN", "CIPOS", "CIEND", "CILEN", "IMPRECISE", "MATEID", "EVENT",
                       "HOMLEN", "HOMSEQ", "AA", "CIGAR", "DB", "H2", "H3", "1000G", "VALIDATED",
                       "CSQ", "ANN", "BCSQ", "LOF", "NMD"})


@dataclass(frozen=True)
class InfoPlan:
    """Per variants column of an extract that leaves samples out: recounted, or left out (null)."""

    recounted: dict[str, str]   # column -> INFO ID
    left_out: list[str]

    def describe(self) -> dict:
        """For dataset.json: what a researcher must know before using these columns."""
        return {"recounted_over_extract_samples": sorted(self.recounted),
                "left_out_as_null": self.left_out,
                "why": "computed by the caller over samples this extract does not hold; DP recounted is the "
                       "sum of the extract's samples' FORMAT/DP"}


def info_plan(info_fields: list[dict], columns: list[str], has_dp: bool, site_patterns: list[str] = ()) -> InfoPlan:
    """Which of `columns` (an extract's variants columns) to recount and which to leave out."""
    recounted, left_out = {}, ["qual"] if "qual" in columns else []
    patterns = [p.upper() for p in site_patterns]
    for f in info_fields:
        name, column = f["name"].upper(), f["column"]
        if column not in columns:
            continue
        if name in RECOUNTED_INFO and (name != "DP" or has_dp):
            recounted[column] = name
        elif name not in SITE_INFO and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            left_out.append(column)
    return InfoPlan(recounted, left_out)


@dataclass(frozen=True)
class KeptCounts:
    """Per variant row with any row in the table read (sorted by key), over the kept samples only.

    A row absent from `keys` has only homozygous-reference calls: AC 0, nothing missing.
    """

    kept: int                # how many samples the extract keeps
    keys: np.ndarray         # variant_key, sorted
    ac: np.ndarray           # copies of the row's ALT allele among the kept samples
    missing: np.ndarray      # kept samples whose call is missing
    carried: np.ndarray      # a kept sample carries the ALT allele
    carried_any: np.ndarray  # any sample of the version does

    @property
    def dropped(self) -> np.ndarray:
        """Keys of the rows only left-out samples carry: the extract must not show these at all."""
        return self.keys[self.carried_any & ~self.carried]

    def at(self, variant_keys: np.ndarray) -> dict[str, pa.Array]:
        """The recountable INFO values (by ID) of these variant rows."""
        found = np.zeros(len(variant_keys), dtype=bool)
        i = np.zeros(len(variant_keys), dtype=np.int64)
        if len(self.keys):
            i = np.minimum(np.searchsorted(self.keys, variant_keys), len(self.keys) - 1)
            found = self.keys[i] == variant_keys

        def pick(values: np.ndarray, absent) -> np.ndarray:
            out = np.full(len(variant_keys), absent, dtype=values.dtype)
            out[found] = values[i[found]]
            return out

        ac = pick(self.ac.astype(np.int64), 0)
        called = self.kept - pick(self.missing.astype(np.int64), 0)
        an = 2 * called
        af = np.divide(ac, an, out=np.zeros(len(an)), where=an > 0)
        return {"AC": pa.array(ac), "AN": pa.array(an), "AF": pa.array(af, mask=an == 0), "NS": pa.array(called)}


def kept_counts(version: Path, samples: list[str], keep: np.ndarray) -> KeptCounts:
    """Counts of the kept samples (`keep[i]` for `samples[i]`) from the catalog version's genotypes."""
    import duckdb
    table = CARRIERS if any((version / CARRIERS).glob("*/*.parquet")) else GENOTYPES
    gone = pa.table({"sample": pa.array([s for s, k in zip(samples, keep) if not k], pa.string())})
    con = duckdb.connect()
    try:
        con.register("gone_samples", gone)
        rows = con.sql(f"""
            SELECT variant_key,
                   coalesce(sum(dosage) FILTER (WHERE NOT gone), 0)::BIGINT AS ac,
                   count(*) FILTER (WHERE NOT gone AND dosage IS NULL) AS missing,
                   coalesce(bool_or(dosage > 0) FILTER (WHERE NOT gone), false) AS carried,
                   coalesce(bool_or(dosage > 0), false) AS carried_any
            FROM (SELECT variant_key, dosage, sample IN (SELECT sample FROM gone_samples) AS gone
                  FROM read_parquet('{version}/{table}/*/*.parquet'))
            GROUP BY variant_key ORDER BY variant_key""").to_arrow_table()
    finally:
        con.close()
    col = rows.column
    return KeptCounts(int(keep.sum()), col("variant_key").to_numpy(), col("ac").to_numpy(), col("missing").to_numpy(),
                      col("carried").to_numpy(zero_copy_only=False), col("carried_any").to_numpy(zero_copy_only=False))


class DepthSums:
    """Sum of the kept samples' FORMAT/DP per variant row, gathered chunk by chunk as the extract's
    genotypes are copied; null for a row where none of them has a DP."""

    def __init__(self):
        self._keys: list[np.ndarray] = []
        self._sums: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def add(self, keys: np.ndarray, dp: pa.ChunkedArray | pa.Array) -> None:
        """`keys` and `dp` of kept genotype rows, grouped by key (as the copy sorts them)."""
        if not len(keys):
            return
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        self._keys.append(keys[starts])
        self._sums.append(np.add.reduceat(dp.fill_null(0).to_numpy().astype(np.int64), starts))
        self._counts.append(np.add.reduceat(dp.is_valid().to_numpy(zero_copy_only=False).astype(np.int64), starts))

    def at(self, variant_keys: np.ndarray) -> pa.Array:
        if not self._keys:
            return pa.nulls(len(variant_keys), pa.int64())
        keys, where = np.unique(np.concatenate(self._keys), return_inverse=True)  # a row may span two chunks
        sums = np.bincount(where, np.concatenate(self._sums), len(keys)).astype(np.int64)
        counts = np.bincount(where, np.concatenate(self._counts), len(keys))
        i = np.minimum(np.searchsorted(keys, variant_keys), len(keys) - 1)
        found = keys[i] == variant_keys
        return pa.array(np.where(found, sums[i], 0), mask=~found | (counts[i] == 0))


def adjust_variants(variants: pa.Table, counts: KeptCounts, plan: InfoPlan, depth: DepthSums | None = None) -> pa.Table:
    """`variants` without the rows only left-out samples carry, recounted and left out as `plan` says
    (`depth`: the DP sums, when `plan` recounts DP)."""
    keys = variants.column("variant_key").to_numpy()
    if len(counts.dropped):
        variants = variants.filter(pa.array(~np.isin(keys, counts.dropped)))
    keys = variants.column("variant_key").to_numpy()
    values = counts.at(keys)
    if depth is not None:
        values["DP"] = depth.at(keys)
    for column, name in plan.recounted.items():
        i = variants.schema.get_field_index(column)
        variants = variants.set_column(i, column, values[name].cast(variants.schema.field(i).type))
    for column in plan.left_out:
        i = variants.schema.get_field_index(column)
        variants = variants.set_column(i, column, pa.nulls(variants.num_rows, variants.schema.field(i).type))
    return variants
