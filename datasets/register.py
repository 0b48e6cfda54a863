"""Registration of FASTQ and BAM files: checksummed, counted and indexed in the catalog, never converted.

Files enter the version folder as hard links (same filesystem: no copy of hundreds of gigabytes)
or, across filesystems, as copies. The manifest lists each file's sample (BAM read-group SM, or a
mapping file, or the file name), read count, size and sha256; a BAM gets a .bai index if it has none.
While counting, registration notes whether read names, or a BAM read's text tags (`CO:Z:`,
`BC:Z:`, ...), embed a source identifier (the sample, participant or file name): provisioning must
then rewrite the reads, not only the BAM header.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path
from typing import Callable

from cirn.state import StateFolder

from .catalog import Catalog, DatasetVersion
from .errors import MalformedInput
from .publish import draft_version, file_entry
from .read_pseudonyms import READ_SCAN, Scrubber, file_stems, identifier_in_read

FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")
KINDS = ("fastq", "bam")


def kind_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".bam"):
        return "bam"
    if name.endswith(FASTQ_SUFFIXES):
        return "fastq"
    return None


def read_mapping(path: Path) -> dict[str, dict]:
    """TSV/CSV with columns file, sample and optionally participant."""
    text = path.read_text(encoding="utf-8-sig")
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    out = {}
    for i, row in enumerate(csv.DictReader(text.splitlines(), dialect=dialect), start=2):
        if not row.get("file") or not row.get("sample"):
            raise MalformedInput(path, i, "each row needs `file` and `sample`")
        out[Path(row["file"]).name] = {"sample": row["sample"].strip(),
                                       "participant": (row.get("participant") or "").strip() or None}
    return out


def bam_facts(path: Path, names: set[str] = frozenset()) -> dict:
    import pysam
    pysam.set_verbosity(0)
    try:
        bam = pysam.AlignmentFile(str(path), "rb", check_sq=False)
    except (ValueError, OSError) as exc:
        raise MalformedInput(path, None, f"not a readable BAM file ({exc})") from None
    with bam:
        header = bam.header.to_dict()
        groups = header.get("RG", [])
        samples = sorted({g["SM"] for g in groups if g.get("SM")})
        search = Scrubber(set(names) | set(samples), "").pattern
        reads, named = 0, False
        try:
            for read in bam.fetch(until_eof=True):
                reads += 1
                if search is not None and not named and identifier_in_read(read, search):
                    named = True
        except (OSError, ValueError) as exc:
            raise MalformedInput(path, None, f"the BAM is truncated or corrupt ({exc})") from None
        sorted_by = header.get("HD", {}).get("SO")
    return {"samples": samples, "read_groups": [g.get("ID") for g in groups], "reads": reads,
            "sorted": sorted_by, "names_in_reads": named, "read_scan": READ_SCAN}


def fastq_facts(path: Path, names: set[str] = frozenset()) -> dict:
    import pysam
    search = Scrubber(names, "").pattern
    reads, named = 0, False
    try:
        with pysam.FastxFile(str(path)) as fh:
            for rec in fh:
                if search is not None and not named and search.search(f"{rec.name} {rec.comment or ''}"):
                    named = True
                if rec.quality is None:
                    raise MalformedInput(path, reads * 4 + 1, "record has no quality line (FASTA, not FASTQ?)")
                if len(rec.quality) != len(rec.sequence):
                    raise MalformedInput(path, reads * 4 + 4, "quality and sequence lengths differ")
                reads += 1
    except (OSError, ValueError) as exc:
        raise MalformedInput(path, reads * 4 + 1, f"not valid FASTQ ({exc})") from None
    return {"reads": reads, "names_in_reads": named, "read_scan": READ_SCAN}


def _suffix(name: str, sample: str | None, kind: str) -> str:
    if sample and name.startswith(sample) and len(name) > len(sample):
        return name[len(sample):]
    if kind == "bam":
        return ".bam"
    m = re.search(r"([._-]R?[12])?(\.f(ast)?q(\.gz)?)$", name, re.IGNORECASE)
    return m.group(0) if m else ".fastq"


def _place(src: Path, dest: Path) -> str:
    try:
        os.link(src, dest)
        return "hard link"
    except OSError:
        shutil.copy2(src, dest)
        return "copy"


def register_files(state: StateFolder, files: list[Path], dataset_id: str, version: str, kind: str,
                   mapping_file: Path | None = None, source_project: str | None = None,
                   progress: Callable[[str], None] | None = None, description: str = "") -> DatasetVersion:
    if kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}")
    if not files:
        raise ValueError("name at least one file to register")
    mapping = read_mapping(Path(mapping_file)) if mapping_file else {}
    names = [Path(f).name for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two files share the name {dupes[0]}; rename one")
    for f in files:
        f = Path(f)
        if not f.is_file():
            raise MalformedInput(f, None, "does not exist or is not a file")
        if kind_of(f) != kind:
            raise MalformedInput(f, None, f"is not a {kind.upper()} file (by its name); use --kind "
                                          f"{kind_of(f) or 'fastq|bam'} or rename it")
    with draft_version(state, dataset_id, version, kind, source_project) as draft:
        folder = draft.path / "files"
        folder.mkdir()
        entries = []
        for f in map(Path, files):
            given = mapping.get(f.name, {})
            names = {n for n in (given.get("sample"), given.get("participant"), *file_stems(f.name)) if n}
            facts = bam_facts(f, names) if kind == "bam" else fastq_facts(f, names)
            sample = given.get("sample")
            if sample is None and kind == "bam" and facts.get("samples"):
                if len(facts["samples"]) > 1:
                    raise MalformedInput(f, None, f"read groups name several samples ({', '.join(facts['samples'])});"
                                                  " register one sample per file or give a --samples mapping")
                sample = facts["samples"][0]
            if sample is None:
                sample = re.split(r"[._]", f.name, maxsplit=1)[0]
            dest = folder / f.name
            placed = _place(f, dest)
            draft.inputs.append({"name": f.name, "path": str(f.resolve()), **file_entry(dest)})
            entry = {"file": f.name, "path": f"files/{f.name}", "suffix": _suffix(f.name, sample, kind),
                     "sample": sample, "participant": given.get("participant"), "kind": kind,
                     "reads": facts["reads"], "size": dest.stat().st_size, "stored_as": placed, "indexes": [],
                     "names_in_reads": facts["names_in_reads"], "read_scan": facts["read_scan"]}
            if kind == "bam":
                entry["read_groups"] = facts["read_groups"]
                entry["sorted"] = facts["sorted"]
                entry["indexes"] = _bam_index(f, dest, facts)
            entries.append(entry)
            if progress:
                progress(f.name)
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist([
            {"file": e["file"], "sample": e["sample"], "reads": e["reads"], "size": e["size"]} for e in entries
        ]), draft.path / "files.parquet")
        draft.meta.update({
            "description": description,
            "reads": entries,
            "samples": sorted({e["sample"] for e in entries}),
            "tables": {"files": {"file": "files.parquet", "rows": len(entries)}},
            "sample_column": "sample",
            "dictionary": [
                {"name": "sample", "type": "string", "role": "identifier", "namespace": "sample",
                 "description": "Sample identifier (pseudonymised in extracts)"},
                {"name": "file", "type": "string", "role": "attribute", "namespace": None,
                 "description": "File name inside the extract"},
                {"name": "reads", "type": "integer", "role": "attribute", "namespace": None,
                 "description": "Number of reads (records)"},
            ],
        })
    return Catalog(state).resolve(dataset_id, version)


def _bam_index(src: Path, dest: Path, facts: dict) -> list[dict]:
    import pysam
    for cand in (Path(str(src) + ".bai"), src.with_suffix(".bai")):
        if cand.is_file():
            target = Path(str(dest) + ".bai")
            _place(cand, target)
            return [{"path": f"files/{target.name}", "suffix": ".bai"}]
    if facts.get("sorted") == "coordinate":
        tmp = Path(str(dest) + ".bai")
        try:
            pysam.index(str(dest), str(tmp))
            return [{"path": f"files/{tmp.name}", "suffix": ".bai"}]
        except pysam.SamtoolsError:
            tmp.unlink(missing_ok=True)
    return []
