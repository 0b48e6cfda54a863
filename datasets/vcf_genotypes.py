"""Genotypes of a VCF as Parquet: a chunk buffer filled record by record, and its writer.

The reader copies each record's GT/DP/GQ arrays (n samples) into a preallocated chunk of
consecutive variants; the writer turns a whole chunk into Arrow columns with numpy (no loop over
samples or genotypes in Python) and writes it as one row group of `genotypes/` (long form), its
non-homozygous-reference rows into `carriers/`, and one row per variant with every sample's
alleles into `matrix/`. In the sequential pass two chunks alternate, so one
is filled while the other is written in a background thread (Arrow and Parquet release the GIL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .vcf_records import ABSENT, MISSING_FROM
from .vcf_records import INT32_MISSING as INT_MISSING

CARRIERS = "carriers"
# Genotype row groups hold consecutive variants (about 32 at 2,000 samples): the `pos` statistics
# of a row group then cover a span of a few hundred kilobases to a few megabases, so a 1 Mb region
# query reads one or two row groups of its chromosome's file.
GENOTYPE_ROWS_PER_GROUP = 65_536
# Carriers are read whole (allele counts in a subset): large row groups, little per-group overhead.
CARRIER_ROWS_PER_GROUP = 1 << 20
MATRIX = "matrix"
# Matrix row groups of about 128 variants at 2,000 samples: measured for a 1 Mb region, 32 took
# 40% longer (more row groups to prune), 512 twice as long (more rows decompressed).
MATRIX_GENOTYPES_PER_GROUP = 250_000
# The matrix: one row per variant row, every sample's call as bytes in samples.parquet's order, as
# numpy reads it (np.frombuffer(alleles, np.int8).reshape(-1, 2)): allele numbers of the record
# (0 REF, 1 the first ALT, ...), -1 a missing allele, -2 none (the second of a haploid call).
# `alleles` is null for the rare record with an allele number above 127 (the genotypes table has it).
MATRIX_SCHEMA = pa.schema([
    pa.field("variant_key", pa.int64(), nullable=False),
    pa.field("pos", pa.int32(), nullable=False),
    pa.field("allele", pa.int16(), nullable=False),  # which ALT of the record this row is (1-based)
    pa.field("alleles", pa.binary()),
    pa.field("phased", pa.binary(), nullable=False),  # one byte per sample, 1 if phased
])
MATRIX_OPTIONS = dict(compression="zstd", compression_level=1, use_dictionary=False,
                      write_statistics=["variant_key", "pos"])

# Keys, positions, samples and GT text are never null: declared required, Parquet stores no
# definition levels for them.
GENOTYPE_SCHEMA = pa.schema([
    pa.field("variant_key", pa.int64(), nullable=False),
    pa.field("pos", pa.int32(), nullable=False),
    pa.field("sample", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    pa.field("gt", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    ("dosage", pa.int8()),
    ("dp", pa.int32()),
    ("gq", pa.int32()),
])

# Measured on 2,000 samples x 50,000 variants: dictionary encoding pays for the repeated strings
# (sample, gt) but costs more than it saves on integers; sorted keys and positions are runs of one
# value per variant, which zstd stores in almost nothing when plain (delta encoding was as small but
# took twice the CPU to write); depth and quality compress better, and faster, split into byte
# streams. Statistics only where a query prunes by them (region by pos, join by key).
PARQUET_OPTIONS = dict(
    compression="zstd", compression_level=1,
    use_dictionary=["sample", "gt"],
    column_encoding={"variant_key": "PLAIN", "pos": "PLAIN",
                     "dosage": "BYTE_STREAM_SPLIT", "dp": "BYTE_STREAM_SPLIT", "gq": "BYTE_STREAM_SPLIT"},
    write_statistics=["variant_key", "pos"],
)


def parquet_options(columns: list[str]) -> dict:
    """PARQUET_OPTIONS for a table with only these of the genotype columns (an extract that keeps
    some of them): the same encodings, so a project's extract reads like the catalog's version."""
    keep = set(columns)
    return {**PARQUET_OPTIONS,
            "use_dictionary": [c for c in PARQUET_OPTIONS["use_dictionary"] if c in keep],
            "column_encoding": {c: e for c, e in PARQUET_OPTIONS["column_encoding"].items() if c in keep},
            "write_statistics": [c for c in PARQUET_OPTIONS["write_statistics"] if c in keep]}


class GenotypeChunk:
    """Up to `capacity` variant rows of one chromosome, each with every sample's alleles, DP and GQ."""

    def __init__(self, n_samples: int, capacity: int):
        self.n, self.capacity = n_samples, capacity
        # Two alleles per sample in BCF's encoding (see vcf_records), decoded for a whole chunk at
        # once: one byte each while every allele number is below 63 (a 16-bit pair indexes lookup
        # tables), else `wide`, an int32 copy made when the first larger allele number arrives.
        self.gt = np.empty((capacity, n_samples, 2), dtype=np.int8)
        self.wide: np.ndarray | None = None
        # DP and GQ as the record had them, widened to int32; a row's floor is where its width's
        # "missing" and "vector end" values start (int8: -127), so the writer maps them once per chunk.
        self.dp = np.empty((capacity, n_samples), dtype=np.int32)
        self.gq = np.empty((capacity, n_samples), dtype=np.int32)
        self.dp_floor = np.empty((capacity, 1), dtype=np.int32)
        self.gq_floor = np.empty((capacity, 1), dtype=np.int32)
        self.keys = np.empty(capacity, dtype=np.int64)
        self.pos = np.empty(capacity, dtype=np.int32)
        self.allele = np.empty(capacity, dtype=np.int16)  # which ALT this row counts (1-based)
        self.chrom: str | None = None
        self.k = 0

    @property
    def full(self) -> bool:
        return self.k >= self.capacity

    def reset(self) -> None:
        self.k, self.chrom, self.wide = 0, None, None

    def add(self, key: int, pos: int, allele: int, gt: np.ndarray, dp: np.ndarray | None,
            gq: np.ndarray | None) -> None:
        i = self.k
        if gt.dtype != np.int8:
            gt = np.maximum(gt, ABSENT)  # every negative value (vector end, missing) reads the same
            if self.wide is None and gt.max(initial=0) > 127:
                self.wide = self.gt.astype(np.int32)
        target = self.gt if self.wide is None else self.wide
        if gt.shape[1] == 2:
            target[i] = gt
        else:  # haploid
            target[i, :, 0] = gt[:, 0]
            target[i, :, 1] = ABSENT
        _put(self.dp, self.dp_floor, i, dp)
        _put(self.gq, self.gq_floor, i, gq)
        self.keys[i], self.pos[i], self.allele[i] = key, pos, allele
        self.k = i + 1


def _put(dest: np.ndarray, floors: np.ndarray, i: int, values: np.ndarray | None) -> None:
    if values is None:
        dest[i] = INT_MISSING
        floors[i] = INT_MISSING
    else:
        dest[i] = values
        floors[i] = MISSING_FROM[values.dtype.itemsize]


def _alleles(v1: np.ndarray, v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Allele numbers from BCF's (allele + 1) << 1 | phased: -1 for "." (0), and for a negative value
    (no allele at all, the second of a haploid call) -1 as the first allele and -2 as the second,
    which the GT text leaves out."""
    a1 = (v1 >> 1) - 1
    a1[v1 < 0] = -1
    a2 = (v2 >> 1) - 1
    a2[v2 < 0] = -2
    return a1, a2


# Every pair of one-byte BCF alleles, indexed by the pair read as a little-endian uint16.
_PAIRS = np.arange(1 << 16, dtype=np.uint16).view(np.int8).reshape(-1, 2).astype(np.int16)
_A1, _A2 = _alleles(_PAIRS[:, 0], _PAIRS[:, 1])
_PHASED = np.where(_PAIRS[:, 1] >= 0, _PAIRS[:, 1] & 1, 0)
_MISSING = (_A1 == -1) | (_A2 == -1)
# The matrix's two int8 allele numbers, as one uint16 to take in one look-up (first in the low byte).
_ALLELE_PAIR = np.stack([_A1, _A2], axis=1).astype(np.int8).view(np.uint16).ravel()
_PHASED8 = _PHASED.astype(np.int8)
_DOSAGE1 = np.where(_MISSING, -1, (_A1 == 1).astype(np.int8) + (_A2 == 1)).astype(np.int8)


def gt_text(a1: int, a2: int, phased: int) -> str:
    """GT as the VCF writes it, from allele numbers as the matrix holds them (-1 missing, -2 none)."""
    first = "." if a1 < 0 else str(a1)
    if a2 == -2:  # haploid
        return first
    return first + ("|" if phased else "/") + ("." if a2 < 0 else str(a2))


class GtCodes:
    """Dictionary codes of GT text, stable for the whole conversion (the dictionary only grows)."""

    def __init__(self):
        self._code16 = np.full(1 << 16, -1, dtype=np.int32)  # by byte pair; -1 until first seen
        self._texts: list[str] = []
        self._by_text: dict[str, int] = {}
        self._dictionary: pa.Array | None = None

    def lookup(self, pairs: np.ndarray, allele: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """GT codes and dosages of (rows, samples) byte pairs as uint16 (first allele in the low byte).

        `allele`: per row, which ALT its dosage counts (1-based). Two table look-ups for the common
        rows (allele 1); only rows of a second or later ALT are decoded again.
        """
        codes = np.take(self._code16, pairs)
        if codes.min(initial=0) < 0:
            for key in np.unique(pairs[codes < 0]).tolist():
                self._code16[key] = self._code(int(_A1[key]), int(_A2[key]), int(_PHASED[key]))
            codes = np.take(self._code16, pairs)
        dosage = np.take(_DOSAGE1, pairs)
        later = np.flatnonzero(allele != 1)
        if len(later):
            rows, which = pairs[later], allele[later, None]
            d = (_A1[rows] == which).view(np.int8) + (_A2[rows] == which).view(np.int8)
            d[_MISSING[rows]] = -1
            dosage[later] = d
        return codes, dosage

    def decode(self, gt: np.ndarray, allele: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same as `lookup`, for (rows, samples, 2) int32 BCF pairs with any allele number."""
        v1, v2 = gt[:, :, 0], gt[:, :, 1]
        a1, a2 = _alleles(v1, v2)
        which = allele[:, None]
        dosage = (a1 == which).view(np.int8) + (a2 == which).view(np.int8)
        dosage[(a1 == -1) | (a2 == -1)] = -1
        key = ((a1.astype(np.int64) + 2) << 20) | ((a2.astype(np.int64) + 2) << 1) | (v2 & 1)
        uniq, inverse = np.unique(key, return_inverse=True)
        local = np.array([self._code((k >> 20) - 2, ((k >> 1) & 0x7FFFF) - 2, k & 1) for k in uniq.tolist()],
                         dtype=np.int32)
        return local[inverse.reshape(key.shape)], dosage

    def _code(self, x1: int, x2: int, ph: int) -> int:
        text = gt_text(x1, x2, ph)
        if text not in self._by_text:
            self._by_text[text] = len(self._texts)
            self._texts.append(text)
            self._dictionary = None
        return self._by_text[text]

    @property
    def dictionary(self) -> pa.Array:
        if self._dictionary is None:
            self._dictionary = pa.array(self._texts, pa.string())
        return self._dictionary


def _nullable(values: np.ndarray, missing: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """An Arrow array over `values` (no copy) with nulls where `missing`; no bitmap when none is."""
    if not missing.any():
        return pa.array(values, arrow_type)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    return pa.Array.from_buffers(arrow_type, len(values), [validity, pa.py_buffer(values)])


@dataclass
class _CarrierBuffer:
    columns: list[list[np.ndarray]] = field(default_factory=lambda: [[] for _ in range(7)])
    rows: int = 0


@dataclass
class _MatrixBuffer:
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0


def matrix_table(keys: np.ndarray, pos: np.ndarray, allele: np.ndarray, alleles: np.ndarray,
                 valid: np.ndarray | None, phased: np.ndarray) -> pa.Table:
    """Matrix rows from (rows, samples, 2) int8 allele numbers and (rows, samples) phase bytes;
    `valid`: rows whose alleles are kept (None: all)."""
    k = len(keys)
    width = alleles.shape[1] * 2 if alleles.ndim == 3 else 0

    def blobs(values: np.ndarray, size: int, validity=None) -> pa.Array:
        offsets = np.arange(k + 1, dtype=np.int32) * size
        return pa.Array.from_buffers(pa.binary(), k, [validity, pa.py_buffer(offsets),
                                                      pa.py_buffer(np.ascontiguousarray(values))])
    validity = None if valid is None or valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Table.from_arrays([
        pa.array(keys, pa.int64()), pa.array(pos, pa.int32()), pa.array(allele, pa.int16()),
        blobs(alleles, width, validity), blobs(phased, phased.shape[1] if phased.ndim == 2 else 0),
    ], schema=MATRIX_SCHEMA)


@dataclass
class GenotypeWriter:
    """Writes chunks of one worker: `genotypes/chrom=<c>/part-<i>.parquet` and the same for carriers
    and the matrix (see MATRIX_SCHEMA)."""

    root: Path  # the genotypes folder; carriers and matrix go next to it
    samples: list[str]
    rows: int = 0
    carrier_rows: int = 0
    _writers: dict = field(default_factory=dict)
    _parts: dict = field(default_factory=dict)  # a chromosome met again later in the file gets another part
    _chrom: str | None = None
    _carriers: _CarrierBuffer = field(default_factory=_CarrierBuffer)
    _matrix: _MatrixBuffer = field(default_factory=_MatrixBuffer)

    def __post_init__(self):
        self.n = len(self.samples)
        self.sample_dict = pa.array(self.samples, pa.string())
        self.gt_codes = GtCodes()
        self._sample_idx = np.empty(0, dtype=np.int32)

    def _open(self, chrom: str) -> None:
        self.close()
        part = self._parts[chrom] = self._parts.get(chrom, -1) + 1
        for name, root, schema, options in (
                ("genotypes", self.root, GENOTYPE_SCHEMA, PARQUET_OPTIONS),
                ("carriers", self.root.parent / CARRIERS, GENOTYPE_SCHEMA, PARQUET_OPTIONS),
                ("matrix", self.root.parent / MATRIX, MATRIX_SCHEMA, MATRIX_OPTIONS)):
            folder = root / f"chrom={chrom}"
            folder.mkdir(parents=True, exist_ok=True)
            self._writers[name] = pq.ParquetWriter(folder / f"part-{part}.parquet", schema, **options)
        self._chrom = chrom

    def _samples(self, rows: int) -> np.ndarray:
        if len(self._sample_idx) < rows:
            self._sample_idx = np.tile(np.arange(self.n, dtype=np.int32), rows // self.n)
        return self._sample_idx[:rows]

    def write(self, chunk: GenotypeChunk) -> None:
        k, n = chunk.k, self.n
        if k == 0 or n == 0:
            return
        if chunk.chrom != self._chrom:
            self._open(chunk.chrom)
        if chunk.wide is None:
            pairs = chunk.gt[:k].view(np.uint16).reshape(k, n)
            codes, dosage = self.gt_codes.lookup(pairs, chunk.allele[:k])
            alleles, valid = np.take(_ALLELE_PAIR, pairs).view(np.int8).reshape(k, n, 2), None
            phased = np.take(_PHASED8, pairs)
        else:
            wide = chunk.wide[:k]
            codes, dosage = self.gt_codes.decode(wide, chunk.allele[:k])
            a1, a2 = _alleles(wide[:, :, 0], wide[:, :, 1])
            valid = (np.maximum(a1, a2) <= 127).all(axis=1)
            alleles = np.stack([a1, a2], axis=2).clip(-128, 127).astype(np.int8)
            phased = np.where(wide[:, :, 1] >= 0, wide[:, :, 1] & 1, 0).astype(np.int8)
        matrix = self._matrix
        matrix.tables.append(matrix_table(chunk.keys[:k].copy(), chunk.pos[:k].copy(), chunk.allele[:k].copy(),
                                          alleles, valid, phased))
        matrix.rows += k
        if matrix.rows * n >= MATRIX_GENOTYPES_PER_GROUP:
            self._flush_matrix()
        codes, dosage = codes.ravel(), dosage.ravel()
        missing = dosage < 0
        dp, gq = chunk.dp[:k], chunk.gq[:k]
        dp[dp <= chunk.dp_floor[:k]] = INT_MISSING
        gq[gq <= chunk.gq_floor[:k]] = INT_MISSING
        dp, gq = dp.ravel(), gq.ravel()
        columns = [np.repeat(chunk.keys[:k], n), np.repeat(chunk.pos[:k], n), self._samples(k * n),
                   codes, dosage, dp, gq]
        self._writers["genotypes"].write_table(self._table(columns, missing), row_group_size=k * n)
        self.rows += k * n
        # The sparse copy: every genotype that is not homozygous reference for this row's allele.
        carrying = np.flatnonzero(dosage)
        buf = self._carriers
        for store, values in zip(buf.columns, columns):
            store.append(np.take(values, carrying))
        buf.rows += len(carrying)
        if buf.rows >= CARRIER_ROWS_PER_GROUP:
            self._flush_carriers()

    def _table(self, columns: list[np.ndarray], dosage_missing: np.ndarray | None = None) -> pa.Table:
        key, pos, sample, codes, dosage, dp, gq = columns
        if dosage_missing is None:
            dosage_missing = dosage < 0
        # safe=False: the indices are built here, always inside their dictionaries (no check per row).
        return pa.Table.from_arrays([
            pa.array(key, pa.int64()),
            pa.array(pos, pa.int32()),
            pa.DictionaryArray.from_arrays(pa.array(sample, pa.int32()), self.sample_dict, safe=False),
            pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), self.gt_codes.dictionary, safe=False),
            _nullable(dosage, dosage_missing, pa.int8()),
            _nullable(dp, dp == INT_MISSING, pa.int32()),
            _nullable(gq, gq == INT_MISSING, pa.int32()),
        ], schema=GENOTYPE_SCHEMA)

    def _flush_carriers(self) -> None:
        buf = self._carriers
        if buf.rows:
            columns = [np.concatenate(parts) for parts in buf.columns]
            self._writers["carriers"].write_table(self._table(columns), row_group_size=buf.rows)
            self.carrier_rows += buf.rows
        self._carriers = _CarrierBuffer()

    def _flush_matrix(self) -> None:
        buf = self._matrix
        if buf.rows:
            table = pa.concat_tables(buf.tables).combine_chunks()
            self._writers["matrix"].write_table(table, row_group_size=buf.rows)
        self._matrix = _MatrixBuffer()

    def close(self) -> None:
        if self._writers:
            self._flush_carriers()
            self._flush_matrix()
            for w in self._writers.values():
                w.close()
            self._writers.clear()
        self._chrom = None
