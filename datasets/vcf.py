"""Ingest of a bgzipped multi-sample VCF into Parquet: a variants table and a long genotypes table.

Read with htslib: cyvcf2 in one sequential pass, or, for an indexed file, Debian's htslib in one
process per core, contig by contig, through htslib's binary form (see htslib.py and vcf_records).
Multi-allelic records are split into one row per ALT allele (each with its own variant_key;
Number=A INFO values follow their allele), so allele counts and
frequencies are per row. Genotypes are written per chromosome (hive folders `chrom=...`) in row
groups of consecutive positions, each row carrying `pos`, so a region query reads one folder and,
thanks to row-group statistics, only a few row groups of it.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import zlib
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from cirn.state import StateFolder

from . import htslib
from .catalog import Catalog, DatasetVersion
from .errors import MalformedInput
from .publish import draft_version
from .vcf_genotypes import CARRIERS, GENOTYPE_ROWS_PER_GROUP, MATRIX, GenotypeChunk, GenotypeWriter
from .vcf_records import BcfDecoder, cyvcf2_records

VARIANTS = "variants.parquet"
GENOTYPES = "genotypes"
# CARRIERS: the same rows as genotypes, minus homozygous-reference calls: allele counts in a sample
# subset, carrier look-ups and rare-variant queries read this (typically a tenth of the rows).
SAMPLES = "samples.parquet"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
GT_FIELD_RE = re.compile(r"^(\.|\d+)([/|](\.|\d+))*$")

INFO_TYPES = {"Integer": pa.int64(), "Float": pa.float64(), "Flag": pa.bool_(), "String": pa.string(),
              "Character": pa.string()}


@dataclass
class InfoField:
    name: str
    number: str
    type: str
    description: str

    @cached_property  # read once per record and allele: computed once
    def arrow_type(self) -> pa.DataType:
        if self.number in ("1", "A", "0") or self.type == "Flag":
            return INFO_TYPES.get(self.type, pa.string())
        return pa.string()  # R, G, '.', n > 1: kept as the comma-joined text

    @cached_property
    def is_text(self) -> bool:
        return self.arrow_type == pa.string()

    @cached_property
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
    filters: list[str] = field(default_factory=list)


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
    infos, format_keys, contigs, filters = [], set(), {}, []
    try:  # header_iter() leaves out a contig's length; the parallel split balances by it
        lengths = dict(zip(vcf.seqnames, vcf.seqlens))
    except Exception:  # noqa: BLE001 - no ##contig lines: lengths unknown
        lengths = {}
    for h in vcf.header_iter():
        d = h.info()
        if d.get("HeaderType") == "INFO":
            infos.append(InfoField(d["ID"], d.get("Number", "."), d.get("Type", "String"),
                                   d.get("Description", "").strip('"')))
        elif d.get("HeaderType") == "FORMAT":
            format_keys.add(d["ID"])
        elif d.get("HeaderType") == "CONTIG" and d.get("ID"):
            contigs[d["ID"]] = int(lengths.get(d["ID"]) or 0)
        elif d.get("HeaderType") == "FILTER" and d.get("ID"):
            filters.append(d["ID"])
    vcf.close()
    return VcfHeader(samples, infos, format_keys, header_lines, contigs, filters)


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
    samples, infos, n = header.samples, header.infos, len(header.samples)
    contig_index = {c: i for i, c in enumerate(header.contigs)}
    counters: dict[str, int] = {}
    geno = GenotypeWriter(out / GENOTYPES, samples)
    vrows: dict[str, list] = {c: [] for c in ("variant_key", "chrom", "pos", "id", "ref", "alt", "qual", "filter")}
    for f in infos:
        vrows[f.column] = []
    info_columns = [(f, vrows[f.column]) for f in infos]
    v_key, v_chrom, v_pos, v_id, v_ref, v_alt, v_qual, v_filter = (
        vrows[c] for c in ("variant_key", "chrom", "pos", "id", "ref", "alt", "qual", "filter"))
    capacity = max(1, GENOTYPE_ROWS_PER_GROUP // max(n, 1))
    # The sequential pass has the machine to itself: two chunks take turns, the reader fills one while
    # a writer thread encodes and writes the other (Arrow and Parquet release the GIL). A parallel
    # worker writes each chunk itself: with a process per core, a second thread per process only
    # contends for the cores and the GIL (measured: 2 workers on 2 cores took 31-32 s of CPU with
    # writer threads, 27-28 s without).
    threaded = contigs is None
    spare = [GenotypeChunk(n, capacity) for _ in range(2 if threaded else 1)] if n else []
    chunk = spare.pop() if n else None
    pending = None
    records = 0
    chroms: list[str] = []

    def hand_over(current: GenotypeChunk) -> GenotypeChunk:
        nonlocal pending
        if not threaded:
            geno.write(current)
            current.reset()
            return current
        if pending is not None:
            spare.append(pending.result())
        pending = pool.submit(lambda c: (geno.write(c), c)[1], current)
        nxt = spare.pop()
        nxt.reset()
        return nxt

    def records_iter():
        if contigs is None:
            import cyvcf2
            vcf = cyvcf2.VCF(str(path), threads=2)
            try:
                yield from cyvcf2_records(vcf, infos, n)
            finally:
                vcf.close()
        else:
            yield from _records_via_htslib(path, contigs, header)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") if threaded else None
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
            try:
                chrom = v.chrom
                if not chroms or chroms[-1] != chrom:
                    chroms.append(chrom)
                alts = v.alts
                if n:
                    gt, dp, gq = v.gt, v.dp, v.gq
                    if chunk.k and (chunk.chrom != chrom or chunk.k + len(alts) > capacity):
                        chunk = hand_over(chunk)
                    chunk.chrom = chrom
                filters = v.filters
                info_values = v.info
                ci = contig_index.get(chrom)
                if ci is None:
                    ci = contig_index[chrom] = len(contig_index)
                pos, vid, ref, qual = v.pos, v.id, v.ref, v.qual
                local = counters.get(chrom, 0)
                counters[chrom] = local + len(alts)
                for ai, alt in enumerate(alts):
                    # Keys are unique and sorted like the file (contig order of the header, then
                    # position), and computable per contig, so contigs can be converted in parallel.
                    key = (ci << 32) | (local + ai)
                    v_key.append(key)
                    v_chrom.append(chrom)
                    v_pos.append(pos)
                    v_id.append(vid)
                    v_ref.append(ref)
                    v_alt.append(alt)
                    v_qual.append(qual)
                    v_filter.append(filters)
                    for (f, column), value in zip(info_columns, info_values):
                        column.append(_info_value(value, f, ai))
                    if n:
                        if chunk.full:
                            chunk = hand_over(chunk)
                            chunk.chrom = chrom
                        chunk.add(key, pos, ai + 1, gt, dp, gq)
            except MalformedInput:
                raise
            except Exception as exc:
                if contigs is not None:
                    raise
                raise diagnose(path, header.header_lines + records, n, header.format_keys, exc) from None
            if records % 1000 == 0:
                if progress:
                    progress(1000)
                elif _PROGRESS is not None:
                    with _PROGRESS.get_lock():
                        _PROGRESS.value += 1000
        if chunk is not None and chunk.k:
            hand_over(chunk)
        if pending is not None:
            pending.result()
    finally:
        iterator.close()  # first: it closes the reader (and htslib's file) even if closing the writers fails
        if pool is not None:
            pool.shutdown(wait=True)
        geno.close()
    if progress:
        progress(records % 1000)
    elif _PROGRESS is not None:
        with _PROGRESS.get_lock():
            _PROGRESS.value += records % 1000
    schema = pa.schema([("variant_key", pa.int64()), ("chrom", pa.string()), ("pos", pa.int32()),
                        ("id", pa.string()), ("ref", pa.string()), ("alt", pa.string()),
                        ("qual", pa.float64()), ("filter", pa.string())]
                       + [(f.column, f.arrow_type) for f in infos])
    return PartResult(pa.Table.from_pydict(vrows, schema=schema), records, geno.rows, chroms, geno.carrier_rows)


def _records_via_htslib(path: Path, contigs: list[str], header: VcfHeader):
    """The records of these contigs, parsed by htslib and decoded from its binary form (see
    htslib.py and vcf_records). A record htslib refuses (a malformed line, a tag or contig the
    header does not declare) and anything the decoder does not expect raise; the caller then redoes
    the file in the sequential pass, which reads such files and names the line of a bad record.
    """
    with htslib.IndexedVcf(path, _fresh_index(path)) as vcf:
        ids = vcf.header_ids(list(header.contigs), header.filters, [f.name for f in header.infos],
                             sorted(header.format_keys))
        decode = BcfDecoder(ids, header.infos, len(header.samples)).record
        for contig in contigs:
            # closing(): htslib's iterator is released here, not whenever the generator is collected
            with closing(vcf.records(contig)) as records:
                for raw in records:
                    yield decode(raw)


def _largest_first(header: VcfHeader, contigs: list[str]) -> list[str]:
    """Contigs by decreasing length (variants are roughly proportional to it): handed to the workers
    one at a time in this order, the last to finish are small, so no core waits long for another."""
    order = {c: i for i, c in enumerate(header.contigs)}
    return sorted(contigs, key=lambda c: (-header.contigs.get(c, 0), order.get(c, len(order))))


def _convert_parallel(path: Path, out: Path, header: VcfHeader, workers: int,
                      progress: Callable[[int], None] | None, contigs: list[str]) -> PartResult:
    import multiprocessing as mp
    import time
    from concurrent.futures import ProcessPoolExecutor
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    with ProcessPoolExecutor(min(workers, len(contigs)), mp_context=ctx, initializer=_init_worker,
                             initargs=(counter,)) as pool:
        futures = [pool.submit(_convert_part, path, out, header, [c]) for c in _largest_first(header, contigs)]
        seen = 0
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            failed = next((f for f in futures if f.done() and f.exception() is not None), None)
            if failed is not None:  # the sequential pass redoes the file: contigs not yet started are
                # dropped (those already running finish first)
                pool.shutdown(wait=True, cancel_futures=True)
                raise failed.exception()
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

    With a tabix/CSI index, several CPUs and Debian's htslib, contigs are converted in parallel
    processes (read through htslib.py); any problem there falls back to one sequential pass, which
    names the exact line of a bad record.
    """
    header = read_header(path)
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    result = None
    indexed = _index_contigs(path)
    if workers > 1 and indexed and len(indexed) > 1 and htslib.available():
        for c in indexed:  # every contig with records is in the index, even if the header lacks it
            header.contigs.setdefault(c, 0)
        try:
            result = _convert_parallel(path, out, header, workers, progress, indexed)
        except Exception:  # noqa: BLE001 - any failure: redo sequentially for a precise message
            for leftover in (out / GENOTYPES, out / CARRIERS, out / MATRIX):
                shutil.rmtree(leftover, ignore_errors=True)
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


def _fresh_index(path: Path) -> Path | None:
    """The tabix/CSI index next to the file, if there is one and it is not older than the file."""
    index = next((p for p in (Path(str(path) + ".tbi"), Path(str(path) + ".csi")) if p.is_file()), None)
    if index is None or index.stat().st_mtime < path.stat().st_mtime:
        return None
    return index


def record_total(path: Path) -> int | None:
    """Records in the file as counted by its index (nothing is decompressed), or None without one.

    The total of the ingest progress bar; bgzip alone does not say how many records a file holds.
    """
    import cyvcf2
    path = Path(path)
    if not path.is_file() or _fresh_index(path) is None:
        return None
    try:
        vcf = cyvcf2.VCF(str(path))
        try:
            return int(vcf.num_records) or None
        finally:
            vcf.close()
    except Exception:  # noqa: BLE001 - an unreadable index only means a bar without a total
        return None


def _index_contigs(path: Path) -> list[str]:
    """Contigs listed in an up-to-date tabix/CSI index (only the index is read), else []."""
    import pysam
    if _fresh_index(path) is None:
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
        return ",".join(str(x) for x in value) if f.is_text else value[0]
    if f.is_text:
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
                "matrix": {"file": f"{MATRIX}/chrom=*/*.parquet", "rows": summary.variants if summary.samples else 0,
                           "partitioning": "hive: chrom",
                           "about": "one row per variant, every sample's alleles as int8 pairs in samples order "
                                    "(-1 missing, -2 none), phase as one byte per sample; alleles null where a "
                                    "call has an allele number above 127"},
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
