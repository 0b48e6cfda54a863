"""Ingest of a bgzipped multi-sample VCF into Parquet: a variants table and a long genotypes table.

Read with cyvcf2 (htslib underneath). Multi-allelic records are split into one row per ALT allele
(each with its own variant_key; Number=A INFO values follow their allele), so allele counts and
frequencies are per row. Genotypes are written per chromosome (hive folders `chrom=...`) in row
groups of consecutive positions, each row carrying `pos`, so a region query reads one folder and,
thanks to row-group statistics, only a few row groups of it.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cirn.state import StateFolder

from .catalog import Catalog, DatasetVersion
from .errors import MalformedInput
from .publish import draft_version

VARIANTS = "variants.parquet"
GENOTYPES = "genotypes"
SAMPLES = "samples.parquet"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
GT_FIELD_RE = re.compile(r"^(\.|\d+)([/|](\.|\d+))*$")
TARGET_ROWS_PER_GROUP = 256_000
INT_MISSING = -2147483647  # htslib: anything at or below is missing / vector end

INFO_TYPES = {"Integer": pa.int64(), "Float": pa.float64(), "Flag": pa.bool_(), "String": pa.string(),
              "Character": pa.string()}
GENOTYPE_SCHEMA = pa.schema([
    ("variant_key", pa.int64()),
    ("pos", pa.int32()),
    ("sample", pa.dictionary(pa.int32(), pa.string())),
    ("gt", pa.dictionary(pa.int32(), pa.string())),
    ("dosage", pa.int8()),
    ("dp", pa.int32()),
    ("gq", pa.int32()),
])


@dataclass
class InfoField:
    name: str
    number: str
    type: str
    description: str

    @property
    def arrow_type(self) -> pa.DataType:
        if self.number in ("1", "A", "0") or self.type == "Flag":
            return INFO_TYPES.get(self.type, pa.string())
        return pa.string()  # R, G, '.', n > 1: kept as the comma-joined text

    @property
    def column(self) -> str:
        return f"info_{self.name.lower()}"


# ---------------------------------------------------------------------------------------------
# Checking and diagnosing input


def check_bgzip(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 28))
            tail = fh.read(28)
    except OSError as exc:
        raise MalformedInput(path, None, f"cannot be read: {exc.strerror}") from None
    if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
        raise MalformedInput(path, None, "is not bgzip-compressed; compress it with `bgzip` (plain gzip and "
                                         "uncompressed VCF are not accepted)")
    if tail != BGZF_EOF:
        line = _readable_lines(path) + 1
        raise MalformedInput(path, line, "the file is truncated (no bgzip end-of-file block; the data stops "
                                         "in the middle of a compressed block); copy the complete file again")


def _readable_lines(path: Path) -> int:
    """How many complete lines can be decompressed before the data ends or breaks."""
    lines = 0
    try:
        with gzip.open(path, "rb") as fh:
            for _ in fh:
                lines += 1
    except (EOFError, OSError, zlib.error):
        pass
    return lines


def _header_line_count(path: Path) -> int:
    """Lines before the first record, counted in the file (htslib's own header may add lines)."""
    count = 0
    with gzip.open(path, "rb") as fh:
        for line in fh:
            if not line.startswith(b"#"):
                break
            count += 1
    return count


def _line_at(path: Path, number: int) -> str | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh, start=1):
                if i == number:
                    return line.rstrip("\n")
    except (EOFError, OSError, zlib.error):
        return None
    return None


def diagnose(path: Path, line_no: int, n_samples: int, format_keys: set[str], exc: Exception) -> MalformedInput:
    """Turn an htslib failure on a record into the file, the line and a reason a person can act on."""
    line = _line_at(path, line_no)
    if line is None:
        return MalformedInput(path, line_no, "the file ends unexpectedly here (truncated or corrupt bgzip data)")
    cols = line.split("\t")
    expected = 9 + n_samples if n_samples else 8
    if len(cols) != expected and not (n_samples == 0 and len(cols) in (8, 9)):
        return MalformedInput(path, line_no, f"the record has {len(cols)} tab-separated columns; the header "
                                             f"declares {expected} (8 fixed, FORMAT and {n_samples} samples)")
    if not cols[1].isdigit():
        return MalformedInput(path, line_no, f"POS {cols[1]!r} is not a positive integer")
    if n_samples:
        keys = cols[8].split(":")
        if "GT" in keys:
            gi = keys.index("GT")
            for sample_i, value in enumerate(cols[9:]):
                parts = value.split(":")
                gt = parts[gi] if gi < len(parts) else "."
                if not GT_FIELD_RE.match(gt):
                    return MalformedInput(path, line_no, f"sample {sample_i + 1} has GT {gt!r}, which is not a "
                                                         "genotype (allele numbers or '.', separated by / or |)")
                n_alt = len(cols[4].split(","))
                for allele in re.split(r"[/|]", gt):
                    if allele != "." and int(allele) > n_alt:
                        return MalformedInput(path, line_no, f"sample {sample_i + 1} has GT {gt!r} but the record "
                                                             f"has only {n_alt} ALT allele(s)")
        unknown = [k for k in keys if k not in format_keys]
        if unknown:
            return MalformedInput(path, line_no, f"FORMAT key(s) {', '.join(unknown)} not declared in the header")
    return MalformedInput(path, line_no, f"htslib could not parse the record ({exc})")


# ---------------------------------------------------------------------------------------------
# Conversion


@dataclass
class GenotypeWriter:
    """Long-form genotype rows, one Parquet file per contiguous run of a chromosome."""

    root: Path
    samples: list[str]
    writers: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)
    current: str | None = None
    gt_codes: dict = field(default_factory=dict)
    rows: int = 0

    def __post_init__(self):
        self.sample_dict = pa.array(self.samples, pa.string())
        self.n = len(self.samples)

    def _writer(self, chrom: str) -> pq.ParquetWriter:
        if chrom != self.current:
            if self.current is not None:
                self.writers.pop(self.current).close()
            part = self.parts.get(chrom, -1) + 1
            self.parts[chrom] = part
            folder = self.root / f"chrom={chrom}"
            folder.mkdir(parents=True, exist_ok=True)
            self.writers[chrom] = pq.ParquetWriter(folder / f"part-{part}.parquet", GENOTYPE_SCHEMA,
                                                   compression="zstd")
            self.current = chrom
        return self.writers[chrom]

    def gt_strings(self, a1: np.ndarray, a2: np.ndarray, phased: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """Dictionary codes for GT text; alleles are -1 missing, -2 absent (haploid)."""
        key = ((a1.astype(np.int64) + 2) << 20) | ((a2.astype(np.int64) + 2) << 1) | phased.astype(np.int64)
        uniq, inverse = np.unique(key, return_inverse=True)
        for k in uniq.tolist():
            if k not in self.gt_codes:
                x1, x2, ph = (k >> 20) - 2, ((k >> 1) & 0x7FFFF) - 2, k & 1
                t1 = "." if x1 < 0 else str(x1)
                text = t1 if x2 == -2 else t1 + ("|" if ph else "/") + ("." if x2 < 0 else str(x2))
                self.gt_codes[k] = (len(self.gt_codes), text)
        local = np.array([self.gt_codes[k][0] for k in uniq.tolist()], dtype=np.int32)
        codes = local[inverse.reshape(key.shape)]
        dictionary = pa.array([t for _, t in sorted(self.gt_codes.values())], pa.string())
        return codes, dictionary

    def write(self, chrom: str, keys: list[int], pos: list[int], a1, a2, phased, dosage, dp, gq) -> None:
        k = len(keys)
        codes, gt_dict = self.gt_strings(a1, a2, phased)
        dosage_flat = dosage.ravel()
        table = pa.Table.from_arrays([
            pa.array(np.repeat(np.asarray(keys, dtype=np.int64), self.n)),
            pa.array(np.repeat(np.asarray(pos, dtype=np.int32), self.n)),
            pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(self.n, dtype=np.int32), k)), self.sample_dict),
            pa.DictionaryArray.from_arrays(pa.array(codes.ravel()), gt_dict),
            pa.array(dosage_flat.astype(np.int8), mask=dosage_flat < 0),
            _int_array(dp, k * self.n),
            _int_array(gq, k * self.n),
        ], schema=GENOTYPE_SCHEMA)
        self._writer(chrom).write_table(table, row_group_size=len(table))
        self.rows += len(table)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers.clear()


def _int_array(values: np.ndarray | None, length: int) -> pa.Array:
    if values is None:
        return pa.nulls(length, pa.int32())
    flat = values.ravel().astype(np.int32)
    return pa.array(flat, mask=flat <= INT_MISSING + 1)


def _format_matrix(v, key: str, n: int) -> np.ndarray | None:
    try:
        arr = v.format(key)
    except KeyError:
        return None
    if arr is None or arr.dtype.kind not in "iu":
        return None
    return arr[:, 0] if arr.ndim == 2 else arr.reshape(n)


@dataclass(frozen=True)
class VcfSummary:
    samples: int
    records: int
    variants: int
    genotypes: int
    chromosomes: list[str]


def convert_vcf(path: Path, out: Path, progress: Callable[[int], None] | None = None) -> tuple[VcfSummary, list[InfoField], list[str]]:
    """Write variants.parquet, samples.parquet and genotypes/ under `out`; raise MalformedInput on bad data."""
    import cyvcf2
    check_bgzip(path)
    try:
        vcf = cyvcf2.VCF(str(path), threads=2)
    except (OSError, Exception) as exc:  # cyvcf2 raises a bare Exception for an unreadable header
        raise MalformedInput(path, None, f"the VCF header cannot be read ({exc})") from None
    header_lines = _header_line_count(path)
    samples = list(vcf.samples)
    if len(set(samples)) != len(samples):
        dupes = sorted({s for s in samples if samples.count(s) > 1})
        raise MalformedInput(path, header_lines, f"duplicate sample names in the header: {', '.join(dupes[:5])}")
    infos, format_keys = [], set()
    for h in vcf.header_iter():
        d = h.info()
        if d.get("HeaderType") == "INFO":
            infos.append(InfoField(d["ID"], d.get("Number", "."), d.get("Type", "String"),
                                   d.get("Description", "").strip('"')))
        elif d.get("HeaderType") == "FORMAT":
            format_keys.add(d["ID"])
    n = len(samples)
    geno = GenotypeWriter(out / GENOTYPES, samples)
    vrows: dict[str, list] = {c: [] for c in ("variant_key", "chrom", "pos", "id", "ref", "alt", "qual", "filter")}
    for f in infos:
        vrows[f.column] = []
    chunk_variants = max(1, TARGET_ROWS_PER_GROUP // max(n, 1))
    buf: dict[str, list] = {}
    buf_chrom: str | None = None
    records = key = 0
    chroms: list[str] = []

    def flush():
        nonlocal buf
        if buf and buf["keys"] and n:
            geno.write(buf_chrom, buf["keys"], buf["pos"], np.vstack(buf["a1"]), np.vstack(buf["a2"]),
                       np.vstack(buf["ph"]), np.vstack(buf["dos"]),
                       np.vstack(buf["dp"]), np.vstack(buf["gq"]))
        buf = {"keys": [], "pos": [], "a1": [], "a2": [], "ph": [], "dos": [], "dp": [], "gq": []}

    flush()
    iterator = iter(vcf)
    try:
        while True:
            try:
                v = next(iterator)
            except StopIteration:
                break
            except Exception as exc:
                raise diagnose(path, header_lines + records + 1, n, format_keys, exc) from None
            records += 1
            line_no = header_lines + records
            try:
                chrom = v.CHROM
                if chrom != buf_chrom or len(buf["keys"]) >= chunk_variants:
                    flush()
                    buf_chrom = chrom
                    if not chroms or chroms[-1] != chrom:
                        chroms.append(chrom)
                alts = v.ALT or []
                if n:
                    arr = v.genotype.array()
                    a1 = arr[:, 0]
                    a2 = arr[:, 1] if arr.shape[1] > 2 else np.full(n, -2, dtype=arr.dtype)
                    ph = arr[:, -1]
                    dp = _format_matrix(v, "DP", n)
                    gq = _format_matrix(v, "GQ", n)
                filters = ";".join(v.FILTERS) if v.FILTERS else "."
                info_values = {f.name: v.INFO.get(f.name) for f in infos}
                for ai, alt in enumerate(alts or ["."]):
                    vrows["variant_key"].append(key)
                    vrows["chrom"].append(chrom)
                    vrows["pos"].append(v.POS)
                    vrows["id"].append(v.ID)
                    vrows["ref"].append(v.REF)
                    vrows["alt"].append(alt)
                    vrows["qual"].append(v.QUAL)
                    vrows["filter"].append(filters)
                    for f in infos:
                        vrows[f.column].append(_info_value(info_values[f.name], f, ai))
                    if n:
                        allele = ai + 1
                        missing = (a1 == -1) | (a2 == -1)
                        dosage = np.where(missing, -1, (a1 == allele).astype(np.int8) + (a2 == allele).astype(np.int8))
                        buf["keys"].append(key)
                        buf["pos"].append(v.POS)
                        buf["a1"].append(a1)
                        buf["a2"].append(a2)
                        buf["ph"].append(ph)
                        buf["dos"].append(dosage)
                        buf["dp"].append(dp if dp is not None else np.full(n, INT_MISSING - 1, dtype=np.int32))
                        buf["gq"].append(gq if gq is not None else np.full(n, INT_MISSING - 1, dtype=np.int32))
                    key += 1
            except MalformedInput:
                raise
            except Exception as exc:
                raise diagnose(path, line_no, n, format_keys, exc) from None
            if progress and records % 1000 == 0:
                progress(1000)
        flush()
    finally:
        geno.close()
        vcf.close()
    if records == 0 and _readable_lines(path) > header_lines:
        raise diagnose(path, header_lines + 1, n, format_keys, Exception("no record could be read"))
    if progress:
        progress(records % 1000)
    schema = pa.schema([("variant_key", pa.int64()), ("chrom", pa.string()), ("pos", pa.int32()),
                        ("id", pa.string()), ("ref", pa.string()), ("alt", pa.string()),
                        ("qual", pa.float64()), ("filter", pa.string())]
                       + [(f.column, f.arrow_type) for f in infos])
    pq.write_table(pa.Table.from_pydict(vrows, schema=schema), out / VARIANTS, compression="zstd",
                   row_group_size=50_000)
    pq.write_table(pa.table({"sample": pa.array(samples, pa.string())}), out / SAMPLES)
    return VcfSummary(n, records, key, geno.rows, chroms), infos, samples


def _info_value(value, f: InfoField, allele_index: int):
    if value is None:
        return None if f.type != "Flag" else False
    if f.type == "Flag":
        return bool(value)
    if f.number == "A" and isinstance(value, tuple):
        value = value[allele_index] if allele_index < len(value) else None
    if isinstance(value, tuple):
        return ",".join(str(x) for x in value) if f.arrow_type == pa.string() else value[0]
    if f.arrow_type == pa.string():
        return str(value)
    return value


def ingest_vcf(state: StateFolder, path: Path, dataset_id: str, version: str, source_project: str | None = None,
               progress: Callable[[int], None] | None = None, qc_policy=None, run_qc: bool = True,
               description: str = "") -> DatasetVersion:
    path = Path(path)
    if not path.is_file():
        raise MalformedInput(path, None, "does not exist or is not a file")
    with draft_version(state, dataset_id, version, "vcf", source_project) as draft:
        summary, infos, samples = convert_vcf(path, draft.path, progress)
        draft.add_input(path)
        draft.meta.update({
            "description": description,
            "samples": summary.samples,
            "records": summary.records,
            "variants": summary.variants,
            "genotypes": summary.genotypes,
            "chromosomes": summary.chromosomes,
            "tables": {
                "variants": {"file": VARIANTS, "rows": summary.variants},
                "genotypes": {"file": f"{GENOTYPES}/chrom=*/*.parquet", "rows": summary.genotypes,
                              "partitioning": "hive: chrom"},
                "samples": {"file": SAMPLES, "rows": summary.samples},
            },
            "info_fields": [{"name": f.name, "column": f.column, "number": f.number, "type": f.type,
                             "description": f.description} for f in infos],
            "sample_column": "sample",
            "dictionary": vcf_dictionary(infos),
        })
        if run_qc and summary.samples and summary.variants:
            from .qc import run_qc_into
            draft.meta["qc"] = run_qc_into(draft.path, draft.path / "qc", qc_policy, title=f"{dataset_id}@{version}")
    return Catalog(state).resolve(dataset_id, version)


def vcf_dictionary(infos: list[InfoField]) -> list[dict]:
    fixed = [
        ("variant_key", "integer", "attribute", None, "Row key joining variants and genotypes"),
        ("chrom", "string", "attribute", None, "Chromosome"),
        ("pos", "integer", "attribute", None, "1-based position"),
        ("id", "string", "attribute", None, "Variant identifier (e.g. rsID)"),
        ("ref", "string", "attribute", None, "Reference allele"),
        ("alt", "string", "attribute", None, "Alternate allele (one per row)"),
        ("qual", "float", "attribute", None, "Variant quality"),
        ("filter", "string", "attribute", None, "FILTER"),
        ("sample", "string", "identifier", "sample", "Sample identifier (pseudonymised in extracts)"),
        ("gt", "string", "attribute", None, "Genotype as written in the VCF"),
        ("dosage", "integer", "attribute", None, "Copies of this row's ALT allele (null if missing)"),
        ("dp", "integer", "attribute", None, "Read depth"),
        ("gq", "integer", "attribute", None, "Genotype quality"),
    ]
    out = [{"name": n, "type": t, "role": r, "namespace": ns, "description": d} for n, t, r, ns, d in fixed]
    out += [{"name": f.column, "type": str(f.arrow_type), "role": "attribute", "namespace": None,
             "description": f.description} for f in infos]
    return out
