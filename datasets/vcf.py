"""Ingest of a bgzipped multi-sample VCF into Parquet: a variants table and a long genotypes table.

Read with cyvcf2 (htslib underneath). Multi-allelic records are split into one row per ALT allele
(each with its own variant_key; Number=A INFO values follow their allele), so allele counts and
frequencies are per row. Genotypes are written per chromosome (hive folders `chrom=...`) in row
groups of consecutive positions, each row carrying `pos`, so a region query reads one folder and,
thanks to row-group statistics, only a few row groups of it.
"""

from __future__ import annotations

import gzip
import os
from concurrent.futures import ThreadPoolExecutor
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
# The same rows as genotypes, minus homozygous-reference calls: allele counts in a sample subset,
# carrier look-ups and rare-variant queries read this (typically a tenth of the rows).
CARRIERS = "carriers"
SAMPLES = "samples.parquet"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
GT_FIELD_RE = re.compile(r"^(\.|\d+)([/|](\.|\d+))*$")
TARGET_ROWS_PER_GROUP = 65_536
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
    carrier_rows: int = 0

    def __post_init__(self):
        self.sample_dict = pa.array(self.samples, pa.string())
        self.n = len(self.samples)
        self._lut = np.full(8192, -1, dtype=np.int32)
        self._by_text: dict[str, int] = {}

    def _writer(self, chrom: str) -> tuple[pq.ParquetWriter, pq.ParquetWriter]:
        if chrom != self.current:
            if self.current is not None:
                for w in self.writers.pop(self.current):
                    w.close()
            part = self.parts.get(chrom, -1) + 1
            self.parts[chrom] = part
            pair = []
            for root in (self.root, self.root.parent / CARRIERS):
                folder = root / f"chrom={chrom}"
                folder.mkdir(parents=True, exist_ok=True)
                # Statistics only where a query prunes by them (region by pos, join by key): min/max
                # of dictionary-encoded strings cost a third of the write time and prune nothing.
                pair.append(pq.ParquetWriter(folder / f"part-{part}.parquet", GENOTYPE_SCHEMA,
                                             compression="zstd", compression_level=1,
                                             write_statistics=["variant_key", "pos"]))
            self.writers[chrom] = tuple(pair)
            self.current = chrom
        return self.writers[chrom]

    def gt_strings(self, a1: np.ndarray, a2: np.ndarray, phased: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """Dictionary codes for GT text; alleles are -1 missing, -2 absent (haploid)."""
        if max(int(a1.max(initial=0)), int(a2.max(initial=0))) < 62:
            # Small allele numbers: a key below 8192, so a bincount finds the distinct genotypes in O(n).
            key = (((a1.astype(np.int32) + 2) << 7) | ((a2.astype(np.int32) + 2) << 1) | phased.astype(np.int32))
            present = np.flatnonzero(np.bincount(key.ravel(), minlength=8192))
            for k in present.tolist():
                self._code(k, (k >> 7) - 2, ((k >> 1) & 0x3F) - 2, k & 1, small=True)
            codes = self._lut[key]
        else:
            key = ((a1.astype(np.int64) + 2) << 20) | ((a2.astype(np.int64) + 2) << 1) | phased.astype(np.int64)
            uniq, inverse = np.unique(key, return_inverse=True)
            local = np.array([self._code(k, (k >> 20) - 2, ((k >> 1) & 0x7FFFF) - 2, k & 1, small=False)
                              for k in uniq.tolist()], dtype=np.int32)
            codes = local[inverse.reshape(key.shape)]
        dictionary = pa.array([t for _, t in sorted(self.gt_codes.values())], pa.string())
        return codes, dictionary

    def _code(self, k: int, x1: int, x2: int, ph: int, small: bool) -> int:
        t1 = "." if x1 < 0 else str(x1)
        text = t1 if x2 == -2 else t1 + ("|" if ph else "/") + ("." if x2 < 0 else str(x2))
        if text not in self._by_text:
            self._by_text[text] = len(self._by_text)
            self.gt_codes[text] = (self._by_text[text], text)
        code = self._by_text[text]
        if small:
            self._lut[k] = code
        return code

    def write(self, chrom: str, keys: list[int], pos: list[int], a1, a2, phased, dosage, dp, gq, gt=None) -> None:
        k = len(keys)
        codes, gt_dict = gt if gt is not None else self.gt_strings(a1, a2, phased)
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
        all_rows, carriers = self._writer(chrom)
        all_rows.write_table(table, row_group_size=len(table))
        # The sparse copy: every genotype that is not homozygous reference for this row's allele.
        carrying = pa.array(dosage_flat != 0)
        carrier_table = table.filter(carrying)
        carriers.write_table(carrier_table, row_group_size=max(1, len(carrier_table)))
        self.rows += len(table)
        self.carrier_rows += len(carrier_table)

    def close(self) -> None:
        for pair in self.writers.values():
            for w in pair:
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
    carriers: int = 0


@dataclass(frozen=True)
class VcfHeader:
    samples: list[str]
    infos: list[InfoField]
    format_keys: set[str]
    header_lines: int
    contigs: dict[str, int]  # name -> length (0 if unknown), in header order


def read_header(path: Path) -> VcfHeader:
    import cyvcf2
    check_bgzip(path)
    try:
        vcf = cyvcf2.VCF(str(path))
    except Exception as exc:  # cyvcf2 raises a bare Exception for an unreadable header
        raise MalformedInput(path, None, f"the VCF header cannot be read ({exc})") from None
    header_lines = _header_line_count(path)
    samples = list(vcf.samples)
    if len(set(samples)) != len(samples):
        dupes = sorted({s for s in samples if samples.count(s) > 1})
        raise MalformedInput(path, header_lines, f"duplicate sample names in the header: {', '.join(dupes[:5])}")
    infos, format_keys, contigs = [], set(), {}
    for h in vcf.header_iter():
        d = h.info()
        if d.get("HeaderType") == "INFO":
            infos.append(InfoField(d["ID"], d.get("Number", "."), d.get("Type", "String"),
                                   d.get("Description", "").strip('"')))
        elif d.get("HeaderType") == "FORMAT":
            format_keys.add(d["ID"])
        elif d.get("HeaderType") == "CONTIG" and d.get("ID"):
            contigs[d["ID"]] = int(d["length"]) if str(d.get("length", "")).isdigit() else 0
    vcf.close()
    return VcfHeader(samples, infos, format_keys, header_lines, contigs)


@dataclass
class PartResult:
    variants: pa.Table
    records: int
    genotypes: int
    chroms: list[str]
    carriers: int = 0


_PROGRESS = None  # a shared counter in worker processes (set by the pool initialiser)


def _init_worker(counter) -> None:
    global _PROGRESS
    _PROGRESS = counter


def _convert_part(path: Path, out: Path, header: VcfHeader, contigs: list[str] | None,
                  progress: Callable[[int], None] | None = None) -> PartResult:
    """Convert the whole file (contigs None; exact line numbers in errors) or only these contigs (indexed)."""
    import cyvcf2
    vcf = cyvcf2.VCF(str(path), threads=1 if contigs is not None else 2)
    samples, infos, n = header.samples, header.infos, len(header.samples)
    contig_index = {c: i for i, c in enumerate(header.contigs)}
    counters: dict[str, int] = {}
    geno = GenotypeWriter(out / GENOTYPES, samples)
    vrows: dict[str, list] = {c: [] for c in ("variant_key", "chrom", "pos", "id", "ref", "alt", "qual", "filter")}
    for f in infos:
        vrows[f.column] = []
    chunk_variants = max(1, TARGET_ROWS_PER_GROUP // max(n, 1))
    buf: dict[str, list] = {}
    buf_chrom: str | None = None
    records = 0
    chroms: list[str] = []
    pending = []  # at most one Parquet write runs in a background thread while parsing goes on

    def flush():
        nonlocal buf
        if buf and buf["keys"] and n:
            a1, a2 = np.vstack(buf["a1"]), np.vstack(buf["a2"])
            allele = np.asarray(buf["allele"], dtype=np.int16)[:, None]
            dosage = ((a1 == allele).astype(np.int8) + (a2 == allele).astype(np.int8))
            dosage[(a1 == -1) | (a2 == -1)] = -1
            phased = np.vstack(buf["ph"])
            codes = geno.gt_strings(a1, a2, phased)  # the GT dictionary grows in this thread only
            args = (buf_chrom, buf["keys"], buf["pos"], a1, a2, phased, dosage,
                    np.vstack(buf["dp"]), np.vstack(buf["gq"]))
            while pending:
                pending.pop().result()
            pending.append(pool.submit(geno.write, *args, gt=codes))
        buf = {"keys": [], "pos": [], "a1": [], "a2": [], "ph": [], "allele": [], "dp": [], "gq": []}

    def records_iter():
        if contigs is None:
            yield from vcf
        else:
            for c in contigs:
                yield from vcf(c)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
    flush()
    iterator = records_iter()
    try:
        while True:
            try:
                v = next(iterator)
            except StopIteration:
                break
            except Exception as exc:
                if contigs is not None:
                    raise
                raise diagnose(path, header.header_lines + records + 1, n, header.format_keys, exc) from None
            records += 1
            line_no = header.header_lines + records
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
                ci = contig_index.get(chrom)
                if ci is None:
                    ci = contig_index[chrom] = len(contig_index)
                for ai, alt in enumerate(alts or ["."]):
                    # Keys are unique and sorted like the file (contig order of the header, then
                    # position), and computable per contig, so contigs can be converted in parallel.
                    local = counters.get(chrom, 0)
                    counters[chrom] = local + 1
                    key = (ci << 32) | local
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
                        buf["keys"].append(key)
                        buf["pos"].append(v.POS)
                        buf["a1"].append(a1)
                        buf["a2"].append(a2)
                        buf["ph"].append(ph)
                        buf["allele"].append(ai + 1)
                        buf["dp"].append(dp if dp is not None else np.full(n, INT_MISSING - 1, dtype=np.int32))
                        buf["gq"].append(gq if gq is not None else np.full(n, INT_MISSING - 1, dtype=np.int32))
            except MalformedInput:
                raise
            except Exception as exc:
                if contigs is not None:
                    raise
                raise diagnose(path, line_no, n, header.format_keys, exc) from None
            if records % 1000 == 0:
                if progress:
                    progress(1000)
                elif _PROGRESS is not None:
                    with _PROGRESS.get_lock():
                        _PROGRESS.value += 1000
        flush()
        while pending:
            pending.pop().result()
    finally:
        pool.shutdown(wait=True)
        geno.close()
        vcf.close()
    if progress:
        progress(records % 1000)
    schema = pa.schema([("variant_key", pa.int64()), ("chrom", pa.string()), ("pos", pa.int32()),
                        ("id", pa.string()), ("ref", pa.string()), ("alt", pa.string()),
                        ("qual", pa.float64()), ("filter", pa.string())]
                       + [(f.column, f.arrow_type) for f in infos])
    return PartResult(pa.Table.from_pydict(vrows, schema=schema), records, geno.rows, chroms, geno.carrier_rows)


def _split_contigs(header: VcfHeader, workers: int, contigs: list[str]) -> list[list[str]]:
    """Contigs in `workers` groups of similar total length (variants are roughly proportional to it)."""
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for name, length in sorted(((c, header.contigs.get(c, 0)) for c in contigs), key=lambda kv: -kv[1]):
        i = load.index(min(load))
        groups[i].append(name)
        load[i] += max(length, 1)
    order = {c: i for i, c in enumerate(header.contigs)}
    return [sorted(g, key=order.get) for g in groups if g]


def _convert_parallel(path: Path, out: Path, header: VcfHeader, workers: int,
                      progress: Callable[[int], None] | None, contigs: list[str]) -> PartResult:
    import multiprocessing as mp
    import time
    from concurrent.futures import ProcessPoolExecutor
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    groups = _split_contigs(header, workers, contigs)
    with ProcessPoolExecutor(len(groups), mp_context=ctx, initializer=_init_worker, initargs=(counter,)) as pool:
        futures = [pool.submit(_convert_part, path, out, header, g) for g in groups]
        seen = 0
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            if progress and counter.value > seen:
                progress(counter.value - seen)
                seen = counter.value
        parts = [f.result() for f in futures]
    if progress:
        progress(sum(p.records for p in parts) - seen)
    variants = pa.concat_tables([p.variants for p in parts]).sort_by("variant_key")
    order = {c: i for i, c in enumerate(header.contigs)}
    chroms = sorted({c for p in parts for c in p.chroms}, key=lambda c: order.get(c, len(order)))
    return PartResult(variants, sum(p.records for p in parts), sum(p.genotypes for p in parts), chroms,
                      sum(p.carriers for p in parts))


def convert_vcf(path: Path, out: Path, progress: Callable[[int], None] | None = None,
                workers: int | None = None) -> tuple[VcfSummary, list[InfoField], list[str]]:
    """Write variants.parquet, samples.parquet and genotypes/ under `out`; raise MalformedInput on bad data.

    With a tabix/CSI index and several CPUs, contigs are converted in parallel processes; any
    problem there falls back to one sequential pass, which names the exact line of a bad record.
    """
    header = read_header(path)
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    result = None
    indexed = _index_contigs(path)
    if workers > 1 and indexed and len(indexed) > 1:
        for c in indexed:  # every contig with records is in the index, even if the header lacks it
            header.contigs.setdefault(c, 0)
        try:
            result = _convert_parallel(path, out, header, workers, progress, indexed)
        except Exception:  # noqa: BLE001 - any failure: redo sequentially for a precise message
            import shutil
            shutil.rmtree(out / GENOTYPES, ignore_errors=True)
            shutil.rmtree(out / CARRIERS, ignore_errors=True)
            result = None
    if result is None:
        result = _convert_part(path, out, header, None, progress)
        if result.records == 0 and _readable_lines(path) > header.header_lines:
            raise diagnose(path, header.header_lines + 1, len(header.samples), header.format_keys,
                           Exception("no record could be read"))
    pq.write_table(result.variants, out / VARIANTS, compression="zstd", row_group_size=50_000)
    pq.write_table(pa.table({"sample": pa.array(header.samples, pa.string())}), out / SAMPLES)
    summary = VcfSummary(len(header.samples), result.records, result.variants.num_rows, result.genotypes,
                         result.chroms, result.carriers)
    return summary, header.infos, header.samples


def _index_contigs(path: Path) -> list[str]:
    """Contigs listed in an up-to-date tabix/CSI index (only the index is read), else []."""
    import pysam
    index = next((p for p in (Path(str(path) + ".tbi"), Path(str(path) + ".csi")) if p.is_file()), None)
    if index is None or index.stat().st_mtime < path.stat().st_mtime:
        return []
    try:
        with pysam.TabixFile(str(path)) as tbx:
            return list(tbx.contigs)
    except Exception:  # noqa: BLE001 - an unreadable index only means no parallelism
        return []


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
                "carriers": {"file": f"{CARRIERS}/chrom=*/*.parquet", "rows": summary.carriers,
                             "partitioning": "hive: chrom",
                             "about": "genotypes without homozygous-reference calls (sparse)"},
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
