"""Per-project extracts: only the granted datasets and columns, withdrawn participants removed,
identifiers replaced by the project's pseudonyms, built in a temporary folder and swapped in atomically.

Layout: $CIRN_HOME/projects/<slug>/data/<dataset_id>/ with the dataset's tables (Parquet), a
`dataset.json` describing the extract and, for FASTQ/BAM, files named by pseudonym (hard links,
or rewritten copies where the file itself names the source sample; see read_pseudonyms.py).
Samples that failed the version's QC are left out of VCF extracts when the policy says so
(`qc.extracts.exclude_failed_samples`); a VCF extract that leaves samples out drops the variants only
they carry and recounts or leaves out what was computed over them (left_out.py). Files are 0444 and
folders 0555. Rows are put in a project-specific order, so that row positions do not line up across
two projects' extracts (which would link their pseudonyms). After a withdrawal, `reprovision_all`
rebuilds every project and suspends those it could not.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cirn import audit
from cirn.errors import Conflict
from cirn.state import StateFolder

from .catalog import Catalog, DatasetVersion
from .identifier_list import update_identifier_list
from .left_out import DepthSums, adjust_variants, info_plan, kept_counts
from .pseudonyms import Pseudonymiser, project_key
from .publish import make_read_only, remove_tree
from .qc import QcVerdict, qc_verdict
from .read_pseudonyms import ReadFile, pseudonymise_read_file, safe_suffix
from .vcf_genotypes import (MATRIX, MATRIX_GENOTYPES_PER_GROUP, MATRIX_OPTIONS, MATRIX_SCHEMA, matrix_table,
                            parquet_options)
from .withdrawals import WithdrawnSet, withdrawn_set

DESCRIPTION = "dataset.json"
VCF_KEYS = ("variant_key", "chrom", "pos", "sample")  # always kept, so the tables still join
GENOTYPE_COLUMNS = {"gt", "dosage"}  # the columns that say which alleles a sample has
READS_KEYS = ("sample", "file")


@dataclass(frozen=True)
class Extract:
    dataset_id: str
    version: str
    path: Path
    rows: int
    removed: int               # withdrawn participants / samples
    qc_excluded: int = 0       # samples left out because they failed the version's QC
    qc_source: str | None = None
    variants_dropped: int = 0  # variant rows carried only by the samples left out


@dataclass
class Built:
    """What a builder made: row count, rows removed for withdrawal, the dictionary, and notes for dataset.json."""

    rows: int
    removed: int
    described: list[dict]
    qc_excluded: int = 0
    notes: dict = field(default_factory=dict)
    variants_dropped: int = 0  # variant rows only left-out samples carry


# ---------------------------------------------------------------------------------------------
# Atomic replacement


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False if the kernel/fs cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return rc == 0


def swap_into_place(built: Path, target: Path) -> None:
    """Make `built` appear at `target`; a reader sees the old extract or the new one, never a mix."""
    if not target.exists():
        os.rename(built, target)
        return
    if _exchange(built, target):
        remove_tree(built)  # `built` now holds the previous extract
        return
    old = target.with_name(f".old-{target.name}-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    os.rename(built, target)
    remove_tree(old)


# ---------------------------------------------------------------------------------------------
# Column selection


def granted_columns(grant_columns: str | list | None) -> list[str] | None:
    if grant_columns is None:
        return None
    cols = json.loads(grant_columns) if isinstance(grant_columns, str) else list(grant_columns)
    return cols or None


def _check_known(dv: DatasetVersion, wanted: list[str] | None, available: set[str]) -> None:
    if wanted is None:
        return
    unknown = sorted(set(wanted) - available)
    if unknown:
        raise Conflict(f"the grant of {dv.ref} names column(s) {', '.join(unknown)} that the dataset does not "
                       f"have (it has {', '.join(sorted(available))}); fix the grant with `cirn project grant`")


# ---------------------------------------------------------------------------------------------
# Builders per kind


def _build_clinical(dv: DatasetVersion, out: Path, cols: list[str] | None, ps: Pseudonymiser,
                    gone: WithdrawnSet, qc_failed: frozenset[str] = frozenset()) -> Built:
    m = dv.manifest
    table = pq.read_table(dv.path / m["tables"]["table"]["file"])
    dictionary = {c["name"]: c for c in m["dictionary"]}
    _check_known(dv, cols, set(table.column_names))
    keep = np.ones(table.num_rows, dtype=bool)
    for name, info in dictionary.items():
        if info["role"] == "identifier" and info.get("namespace") in ("participant", "sample"):
            values = table.column(name).to_pylist()
            keep &= np.array([not gone.contains(info["namespace"], v) for v in values], dtype=bool)
    removed = int((~keep).sum())
    table = table.filter(pa.array(keep))
    order = np.argsort([ps.rank(f"{dv.dataset_id}:{i}") for i in range(table.num_rows)], kind="stable")
    # Rank by original row number: a project-specific shuffle that is still reproducible.
    table = table.take(pa.array(order, pa.int64())) if table.num_rows else table
    selected = cols if cols is not None else table.column_names
    selected = [c for c in table.column_names if c in selected]
    arrays = []
    for name in selected:
        info = dictionary.get(name, {})
        col = table.column(name)
        if info.get("role") == "identifier":
            ns = info.get("namespace") or name
            col = pa.array([ps(ns, None if v is None else str(v)) for v in col.to_pylist()], pa.string())
        arrays.append(col)
    out_table = pa.Table.from_arrays(arrays, names=selected)
    pq.write_table(out_table, out / "table.parquet", compression="zstd")
    described = [{**dictionary[c], "pseudonymised": dictionary[c]["role"] == "identifier"}
                 for c in selected if c in dictionary]
    return Built(out_table.num_rows, removed, described)


def _sample_maps(samples: list[str], ps: Pseudonymiser, gone: WithdrawnSet, qc_failed: frozenset[str] = frozenset()):
    """For each source sample: keep?, its pseudonym, and its project-specific rank."""
    keep = np.array([not gone.contains("sample", s) and s not in qc_failed for s in samples], dtype=bool)
    pseudo = [ps("sample", s) for s in samples]
    kept_sorted = sorted(p for p, k in zip(pseudo, keep) if k)
    rank_of = {p: i for i, p in enumerate(kept_sorted)}
    rank = np.array([rank_of.get(p, -1) for p in pseudo], dtype=np.int64)
    return keep, pseudo, rank, kept_sorted


def _build_vcf(dv: DatasetVersion, out: Path, cols: list[str] | None, ps: Pseudonymiser,
               gone: WithdrawnSet, qc_failed: frozenset[str] = frozenset(), site_info: tuple[str, ...] = ()) -> Built:
    m = dv.manifest
    samples = pq.read_table(dv.path / m["tables"]["samples"]["file"]).column("sample").to_pylist()
    keep, pseudo, rank, kept_sorted = _sample_maps(samples, ps, gone, qc_failed)
    variants = pq.read_table(dv.path / m["tables"]["variants"]["file"])
    geno_files = sorted((dv.path / "genotypes").glob("chrom=*/*.parquet"))
    geno_cols = pq.read_schema(geno_files[0]).names if geno_files else []
    _check_known(dv, cols, set(variants.column_names) | set(geno_cols) | {"chrom"})
    want = None if cols is None else set(cols) | set(VCF_KEYS)
    # A carriers row says by its presence alone that the sample carries an ALT allele: only a grant
    # that includes the genotypes themselves (gt or dosage) gets that table.
    if cols is None or set(cols) & GENOTYPE_COLUMNS:
        geno_files += sorted((dv.path / "carriers").glob("chrom=*/*.parquet"))
    vsel = [c for c in variants.column_names if want is None or c in want]
    variants, counts, plan, depth = variants.select(vsel), None, None, None
    if (~keep).any():
        # Samples are left out: the rows only they carry go, and values computed over them are redone.
        plan = info_plan(m.get("info_fields", []), vsel, "dp" in geno_cols, site_info)
        counts = kept_counts(dv.path, samples, keep)
        depth = DepthSums() if "DP" in plan.recounted.values() else None
    dropped = counts.dropped if counts is not None else np.array([], dtype=np.int64)
    pq.write_table(pa.table({"sample": pa.array(kept_sorted, pa.string())}), out / "samples.parquet")
    gsel = [c for c in geno_cols if want is None or c in want]
    index_of = {s: i for i, s in enumerate(samples)}
    new_dict = pa.array(kept_sorted, pa.string())
    rows = 0
    for src in geno_files:
        dest = out / src.parent.parent.name / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        reader = pq.ParquetFile(src)
        writer = None
        for g in range(reader.num_row_groups):
            t = reader.read_row_group(g)
            sample_col = t.column("sample").combine_chunks()
            # Map this chunk's dictionary (source names) to source indices, then to ranks.
            local = np.array([index_of[s] for s in sample_col.dictionary.to_pylist()], dtype=np.int64)
            src_idx = local[sample_col.indices.to_numpy(zero_copy_only=False)]
            vk = t.column("variant_key").to_numpy()
            row_keep = keep[src_idx] & ~np.isin(vk, dropped) if len(dropped) else keep[src_idx]
            new_idx = rank[src_idx]
            order = np.lexsort((new_idx, vk))          # by variant, then by project-specific sample rank
            order = order[row_keep[order]]
            t = t.take(pa.array(order))
            if depth is not None and src.parent.parent.name == "genotypes":
                depth.add(vk[order], t.column("dp"))
            sample_new = pa.DictionaryArray.from_arrays(pa.array(new_idx[order].astype(np.int32)), new_dict)
            t = t.set_column(t.schema.get_field_index("sample"), "sample", sample_new).select(gsel)
            if writer is None:
                writer = pq.ParquetWriter(dest, t.schema, **parquet_options(t.schema.names))
            writer.write_table(t, row_group_size=max(1, len(t)))
            if src.parent.parent.name == "genotypes":
                rows += len(t)
        if writer is not None:
            writer.close()
    if counts is not None:
        variants = adjust_variants(variants, counts, plan, depth)
    pq.write_table(variants, out / "variants.parquet", compression="zstd", row_group_size=50_000)
    if cols is None or "gt" in cols:  # the matrix holds the genotypes: only with gt granted
        # Extract sample i is kept_sorted[i]: the source sample of rank i.
        kept = np.flatnonzero(keep)
        _build_matrix(dv.path, out / MATRIX, samples, kept[np.argsort(rank[kept])], dropped)
    withdrawn = np.array([gone.contains("sample", s) for s in samples], dtype=bool)
    removed = int(withdrawn.sum())
    qc_excluded = int((~keep & ~withdrawn).sum())   # a withdrawn sample counts as withdrawn only
    described = [d for d in m.get("dictionary", []) if d["name"] in set(vsel) | set(gsel) | {"chrom"}]
    notes = {"variants_info": plan.describe()} if plan is not None else {}
    return Built(rows, removed, described, qc_excluded, notes, variants_dropped=len(dropped))


def _build_matrix(src_version: Path, dest_root: Path, samples: list[str], order: np.ndarray,
                  dropped: np.ndarray | None = None) -> None:
    """The matrix with only the extract's samples, in its samples.parquet order (`order`: for each
    extract sample, its position in the source `samples`), without the rows of `dropped` keys.

    A source row is null when any sample's call has an allele number above 127; here such a row is
    rebuilt from the genotypes table for the kept samples only, so whether it stays null says
    nothing about a sample left out.
    """
    n_src, m = len(samples), len(order)
    per_group = max(1, MATRIX_GENOTYPES_PER_GROUP // max(1, m))  # the catalog's group size, in genotypes
    for src in sorted((src_version / MATRIX).glob("chrom=*/*.parquet")):
        dest = dest_root / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        reader = pq.ParquetFile(src)
        pending: list[pa.Table] = []
        with pq.ParquetWriter(dest, MATRIX_SCHEMA, **MATRIX_OPTIONS) as writer:
            for g in range(reader.num_row_groups):
                t = reader.read_row_group(g)
                if dropped is not None and len(dropped):
                    t = t.filter(pa.array(~np.isin(t.column("variant_key").to_numpy(), dropped)))
                k = t.num_rows
                if not k:
                    continue
                keys = t.column("variant_key").to_numpy()
                blobs = t.column("alleles").combine_chunks()
                valid = blobs.is_valid().to_numpy(zero_copy_only=False)
                alleles = np.zeros((k, n_src, 2), dtype=np.int8)
                if valid.any():
                    alleles[valid] = np.frombuffer(b"".join(blobs.filter(pa.array(valid)).to_pylist()),
                                                   np.int8).reshape(-1, n_src, 2)
                phased = np.frombuffer(b"".join(t.column("phased").to_pylist()), np.int8).reshape(k, n_src)
                alleles, phased = alleles[:, order], phased[:, order]
                if not valid.all():
                    valid = valid.copy()
                    _rebuild_wide_rows(src_version, keys, valid, alleles, samples, order)
                pending.append(matrix_table(keys, t.column("pos").to_numpy(), t.column("allele").to_numpy(),
                                            alleles, valid, phased))
                if sum(p.num_rows for p in pending) >= per_group:
                    _write_all(writer, pending)
            _write_all(writer, pending)


def _write_all(writer, tables: list) -> None:
    if tables:
        table = pa.concat_tables(tables).combine_chunks()
        writer.write_table(table, row_group_size=max(1, table.num_rows))
        tables.clear()


def _rebuild_wide_rows(src_version: Path, keys: np.ndarray, valid: np.ndarray, alleles: np.ndarray,
                       samples: list[str], order: np.ndarray) -> None:
    """Fill the null rows (valid False) from the genotypes table's GT text, for the kept samples;
    a row stays null only if one of their calls needs an allele number above 127."""
    import duckdb
    rows = {int(keys[i]): i for i in np.flatnonzero(~valid)}
    column_of = {samples[j]: c for c, j in enumerate(order)}
    con = duckdb.connect()
    try:
        calls = con.execute(f"SELECT variant_key, sample, gt FROM read_parquet('{src_version}/genotypes/*/*.parquet') "
                            "WHERE list_contains(?, variant_key)", [list(rows)]).fetchall()
    finally:
        con.close()
    wide = set()
    for key, sample, gt in calls:
        c = column_of.get(sample)
        if c is None:
            continue  # a sample left out of this extract
        parts = gt.replace("|", "/").split("/")
        numbers = [-1 if a == "." else int(a) for a in parts[:2]] + ([-2] if len(parts) == 1 else [])
        if max(numbers) > 127:
            wide.add(key)
        else:
            alleles[rows[key], c] = numbers
    for key, i in rows.items():
        valid[i] = key not in wide


def _build_reads(dv: DatasetVersion, out: Path, cols: list[str] | None, ps: Pseudonymiser,
                 gone: WithdrawnSet, qc_failed: frozenset[str] = frozenset()) -> Built:
    m = dv.manifest
    entries = m.get("reads", [])
    available = set().union(*(e.keys() for e in entries)) if entries else set(READS_KEYS)
    _check_known(dv, cols, available - {"participant", "path"})
    files_dir = out / "files"
    files_dir.mkdir()
    previous = _previous_rewrites(out.parent / dv.dataset_id)
    rows, removed, copied, rewritten = [], 0, [], {}
    for e in entries:
        if gone.contains("sample", e.get("sample")) or gone.contains("participant", e.get("participant")):
            removed += 1
            continue
        who = ps("sample", e["sample"]) if e.get("sample") else ps("file", e["file"])
        suffix = safe_suffix(e["suffix"], e.get("kind", dv.kind))
        name = f"{who}{suffix}"
        n = 2
        while (files_dir / name).exists():
            name = f"{who}-{n}{suffix}"
            n += 1
        source = ReadFile.of(dv, e)
        made = pseudonymise_read_file(source, files_dir / name, who, previous.get(name),
                                      out.parent / dv.dataset_id / files_dir.name)
        if made is None:
            # The file names no source identifier: link it (no copy of hundreds of gigabytes).
            _link(dv.path / e["path"], files_dir / name, copied)
            for idx in e.get("indexes", []):
                _link(dv.path / idx["path"], files_dir / f"{name}{idx['suffix']}", copied)
        else:
            rewritten[name] = made
        row = {k: v for k, v in e.items() if k not in ("participant", "path", "indexes", "suffix", "read_groups",
                                                        "stored_as", "names_in_reads", "read_scan", "source_names")}
        row["sample"], row["file"] = (ps("sample", e["sample"]) if e.get("sample") else None), f"files/{name}"
        row["size"] = (files_dir / name).stat().st_size
        if cols is not None:
            row = {k: v for k, v in row.items() if k in set(cols) | set(READS_KEYS)}
        rows.append(row)
    rows.sort(key=lambda r: r["file"])
    pq.write_table(pa.Table.from_pylist(rows) if rows else pa.table({"sample": pa.array([], pa.string()),
                                                                      "file": pa.array([], pa.string())}),
                   out / "files.parquet")
    notes = {"files_rewritten": rewritten, "files_copied_not_linked": copied}
    return Built(len(rows), removed, [], notes=notes)


def _previous_rewrites(previous_extract: Path) -> dict[str, dict]:
    """Rewritten files of the extract being replaced, so an unchanged one is linked, not rewritten again."""
    try:
        described = json.loads((previous_extract / DESCRIPTION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return described.get("files_rewritten") or {}


def _link(src: Path, dest: Path, copied: list) -> None:
    try:
        os.link(src, dest)
    except OSError:
        # Different filesystem: hard links are impossible; copy, and say so in dataset.json.
        shutil.copy2(src, dest)
        copied.append(dest.name)


BUILDERS = {"clinical": _build_clinical, "vcf": _build_vcf, "fastq": _build_reads, "bam": _build_reads}


# ---------------------------------------------------------------------------------------------
# Provisioning


def build_extract(state: StateFolder, slug: str, dv: DatasetVersion, cols: list[str] | None,
                  ps: Pseudonymiser, gone: WithdrawnSet, qc: QcVerdict | None = None,
                  site_info: tuple[str, ...] = ()) -> Extract:
    data = state.project_data(slug)
    data.mkdir(parents=True, exist_ok=True)
    kind = dv.kind
    builder = BUILDERS.get(kind)
    if builder is None:
        raise Conflict(f"{dv.ref} is of kind {kind!r}, which cannot be provisioned")
    tmp = data / f".build-{dv.dataset_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        extra = {"site_info": site_info} if kind == "vcf" else {}
        built = builder(dv, tmp, cols, ps, gone, qc.failed if qc else frozenset(), **extra)
        left_out = {"withdrawn": built.removed}
        if qc is not None:
            left_out.update(failed_qc=built.qc_excluded, qc_result=qc.source)
        (tmp / DESCRIPTION).write_text(json.dumps({
            "dataset_id": dv.dataset_id, "version": dv.version, "kind": kind,
            "description": dv.manifest.get("description", ""),
            "columns": "all" if cols is None else cols,
            "rows": built.rows,
            "left_out": left_out,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "identifiers": "project-specific pseudonyms",
            "dictionary": built.described,
            **built.notes,
        }, indent=2, default=str), encoding="utf-8")
        make_read_only(tmp)
        swap_into_place(tmp, data / dv.dataset_id)
    except BaseException:
        if tmp.exists():
            remove_tree(tmp)
        raise
    return Extract(dv.dataset_id, dv.version, data / dv.dataset_id, built.rows, built.removed,
                   built.qc_excluded, qc.source if qc else None, built.variants_dropped)


def provision_project(enclave, slug: str, actor: str, progress=None) -> list[Extract]:
    """(Re)build every extract of project `slug` from its grants; remove extracts of revoked grants."""
    from cirn.projects import get_project
    state: StateFolder = enclave.state
    catalog = Catalog(state)
    with enclave.db.session() as s:
        project = get_project(s, slug)
        grants = [(g.dataset_id, g.version, granted_columns(g.columns)) for g in project.grants]
        gone = withdrawn_set(s, state)
    versions = [(catalog.resolve(d, v), cols) for d, v, cols in grants]
    for dv, _ in versions:
        problems = catalog.verify(dv, quick=True)
        if problems:
            raise Conflict(f"{dv.ref} no longer matches its manifest ({problems[0]}); nothing was provisioned. "
                           f"Run `cirn datasets verify {dv.ref}` and restore the file")
    ps = Pseudonymiser(project_key(state, slug))
    exclude_failed = enclave.policy.qc.extracts.exclude_failed_samples
    site_info = tuple(enclave.policy.qc.extracts.site_info_fields)
    data = state.project_data(slug)
    data.mkdir(parents=True, exist_ok=True)
    built = []
    try:
        for dv, cols in versions:
            qc = qc_verdict(state, dv) if exclude_failed and dv.kind == "vcf" else None
            built.append(build_extract(state, slug, dv, cols, ps, gone, qc, site_info))
            if progress:
                progress(dv.ref)
    finally:
        # Also when a later extract fails: the ones already swapped in hold these pseudonyms.
        update_identifier_list(enclave, slug, ps.issued())
    granted = {dv.dataset_id for dv, _ in versions}
    removed_extracts = []
    for child in sorted(data.iterdir()):
        if child.name.startswith(".build-") or child.name.startswith(".old-"):
            remove_tree(child)  # left by a crash
        elif not child.name.startswith(".") and child.name not in granted:
            remove_tree(child)
            removed_extracts.append(child.name)
    with enclave.db.session() as s:
        audit.record(s, actor, "project.provisioned", slug,
                     extracts=[{"dataset": e.dataset_id, "version": e.version, "rows": e.rows,
                                "withdrawn_removed": e.removed, "failed_qc_left_out": e.qc_excluded,
                                "variants_dropped": e.variants_dropped}
                               for e in built],
                     removed=removed_extracts, withdrawals=len(gone.participants))
    return built


UNREACHED_REASON = "a consent withdrawal could not be applied to this project's extracts"


@dataclass
class Reprovisioning:
    """What `reprovision_all` did: the projects rebuilt, and those it could not rebuild, which it suspended."""

    done: dict[str, list[Extract]] = field(default_factory=dict)
    unreached: dict[str, str] = field(default_factory=dict)      # slug -> why its rebuild failed
    suspended: list[str] = field(default_factory=list)           # of those, the ones this suspended
    stopped: dict[str, list[tuple[str, str]]] | None = field(default_factory=dict)  # None: no Docker engine

    def retry_command(self, slug: str) -> str:
        """Rebuild the project, and lift the suspension only if this run made it and the rebuild worked."""
        command = f"cirn project provision {slug}"
        return f"{command} && cirn project resume {slug}" if slug in self.suspended else command


def reprovision_all(enclave, actor: str) -> Reprovisioning:
    """Rebuild every project's extracts, whatever its status (after a withdrawal, none may keep the data).

    One project's failure does not stop the others. Every project not rebuilt (a failure, or an
    interruption before its turn) is suspended at once, so that its members cannot start a server,
    and its running containers are stopped through the Docker engine without waiting for the
    reconciler; the caller names them with `retry_command`.
    """
    from cirn.projects import list_projects
    with enclave.db.session() as s:
        slugs = [p.slug for p in list_projects(s)]
    result = Reprovisioning()
    try:
        for slug in slugs:
            try:
                result.done[slug] = provision_project(enclave, slug, actor)
            except Exception as exc:  # noqa: BLE001 - named in the result; the others must still be rebuilt
                result.unreached[slug] = str(exc) or type(exc).__name__
    finally:
        for slug in slugs:
            if slug not in result.done:
                result.unreached.setdefault(slug, "interrupted before its turn")
        if result.unreached:
            _suspend_unreached(enclave, actor, result)
    return result


def _suspend_unreached(enclave, actor: str, result: Reprovisioning) -> None:
    from cirn.hub.containers import stop_project_containers
    from cirn.models import ProjectStatus
    from cirn.projects import change_status, get_project
    for slug, error in result.unreached.items():
        with enclave.db.session() as s:
            if get_project(s, slug).status is ProjectStatus.active:
                change_status(s, actor, slug, "suspend", reason=UNREACHED_REASON, error=error)
                result.suspended.append(slug)
    for slug in result.unreached:
        stopped = stop_project_containers(slug)
        if stopped is None:
            result.stopped = None  # the reconciler stops them on its next pass: the project is suspended
            break
        result.stopped[slug] = stopped
        with enclave.db.session() as s:
            for user, _name in stopped:
                audit.record(s, actor, "server.stopped", f"{user}/{slug}", reason=UNREACHED_REASON)
