"""Sample and variant QC of a published (or draft) VCF dataset, computed with DuckDB over its Parquet.

Sample QC: call rate, autosomal heterozygosity rate (and its z-score in the cohort), Ti/Tv of the
SNVs the sample carries, and the sex check from chrX: the inbreeding coefficient
F = 1 - observed/expected heterozygous calls on non-PAR chrX (expected from cohort allele
frequencies, as PLINK's --check-sex does). Variant QC: call rate, alternate allele frequency and
the Hardy-Weinberg exact p (Wigginton, Cutler & Abecasis 2005) on autosomes.
Thresholds come from the policy's `qc` section; every failed row names its reasons.

The inferred sex is compared with the sex recorded for the same participant in a clinical table of
the catalog (found through the sample and participant columns, or named with `--clinical`); a
disagreement is flagged `sex-mismatch` (a likely sample swap). `cirn datasets qc` records its
result under $CIRN_HOME/qc/<id>/<version>/ (the version itself is immutable), and provisioning
reads the newest QC result of a version to leave failed samples out of extracts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import gammaln

from cirn.errors import Conflict
from cirn.policies.qc_rules import QcPolicy
from cirn.state import StateFolder

from .catalog import Catalog, DatasetVersion

SAMPLE_QC = "sample_qc.parquet"
VARIANT_QC = "variant_qc.parquet"
REPORT = "report.html"
AUTOSOMES = {str(i) for i in range(1, 23)}
# GRCh38 pseudo-autosomal regions of chrX: heterozygous calls there are expected in males.
PAR_X = ((10_001, 2_781_479), (155_701_383, 156_030_895))
TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}
RECORDED = "qc"          # $CIRN_HOME/qc/<id>/<version>/: the result of the last `cirn datasets qc`
RECORD = "qc.json"
SEX_COLUMNS = ("sex", "gender")
SEX_VALUES = {"m": "male", "male": "male", "man": "male", "1": "male",
              "f": "female", "female": "female", "woman": "female", "2": "female"}
SEX_MISMATCH = "sex-mismatch"


@lru_cache(maxsize=200_000)
def hwe_exact_p(n_het: int, n_hom1: int, n_hom2: int) -> float:
    """Two-sided Hardy-Weinberg exact p for one biallelic site (Wigginton et al. 2005).

    Every heterozygote count k the site's allele counts allow has the probability
    n! 2^k n_rare! n_common! / (hom_rare! k! hom_common! (2n)!); p is the sum of those no more
    likely than the observed one. Computed at once for all k with numpy in log space (SNPHWE's
    recurrence takes a Python loop over k per site, seconds on a 2,000-sample cohort).
    """
    if n_het < 0 or n_hom1 < 0 or n_hom2 < 0:
        raise ValueError("genotype counts must be non-negative")
    n = n_het + n_hom1 + n_hom2
    if n == 0:
        return 1.0
    rare = 2 * min(n_hom1, n_hom2) + n_het  # copies of the rarer allele, at most n
    common = 2 * n - rare
    hets = np.arange(rare & 1, rare + 1, 2)
    hom_rare = (rare - hets) // 2
    hom_common = n - hets - hom_rare
    # log k! = gammaln(k + 1), accurate to a few ulp at any cohort size (a running sum of logs
    # drifts by more than the tie tolerance below beyond about 20,000 samples).
    log_p = (gammaln(n + 1) + gammaln(rare + 1) + gammaln(common + 1) - gammaln(2 * n + 1)
             - gammaln(hom_rare + 1) - gammaln(hets + 1) - gammaln(hom_common + 1) + hets * math.log(2.0))
    observed = log_p[(n_het - (rare & 1)) // 2]
    weights = np.exp(log_p - log_p.max())
    # Ties within 1e-9 count as no more likely, as in SNPHWE.
    p = weights[log_p <= observed + 1e-9].sum() / weights.sum()
    return min(1.0, float(p))


# Per-variant and per-sample genotype counts. The dense form counts every genotype row; the sparse
# form reads only the carriers table (no homozygous-reference calls: about an eighth of the rows)
# and gets the rest by subtraction, since every variant has a row for every sample: called =
# samples - missing, homozygous reference = called - het - hom alt, and for a sample the totals
# over all variants of a class minus its missing calls.
DENSE_VARIANT_COUNTS = """
    SELECT variant_key, count(*) AS n, count(dosage) AS called,
           count(*) FILTER (WHERE dosage = 0) AS n_hom_ref,
           count(*) FILTER (WHERE dosage = 1) AS n_het,
           count(*) FILTER (WHERE dosage = 2) AS n_hom_alt,
           coalesce(sum(dosage), 0)::BIGINT AS ac
    FROM g GROUP BY variant_key ORDER BY variant_key"""
SPARSE_VARIANT_COUNTS = """
    WITH n AS (SELECT count(*) AS n FROM samples),
    cv AS (SELECT variant_key, count(*) - count(dosage) AS missing,
                 count(*) FILTER (WHERE dosage = 1) AS n_het,
                 count(*) FILTER (WHERE dosage = 2) AS n_hom_alt,
                 coalesce(sum(dosage), 0)::BIGINT AS ac
          FROM c GROUP BY variant_key)
    SELECT v.variant_key, n.n, n.n - coalesce(cv.missing, 0) AS called,
           n.n - coalesce(cv.missing, 0) - coalesce(cv.n_het, 0) - coalesce(cv.n_hom_alt, 0) AS n_hom_ref,
           coalesce(cv.n_het, 0) AS n_het, coalesce(cv.n_hom_alt, 0) AS n_hom_alt, coalesce(cv.ac, 0)::BIGINT AS ac
    FROM vinfo v CROSS JOIN n LEFT JOIN cv USING (variant_key) ORDER BY v.variant_key"""
DENSE_SAMPLE_COUNTS = """
    SELECT g.sample,
           count(*) AS n, count(g.dosage) AS called,
           count(*) FILTER (WHERE v.cls = 'auto' AND g.dosage IS NOT NULL) AS auto_called,
           count(*) FILTER (WHERE v.cls = 'auto' AND g.dosage = 1) AS auto_het,
           count(*) FILTER (WHERE v.snv AND v.ti AND g.dosage > 0) AS n_ti,
           count(*) FILTER (WHERE v.snv AND NOT v.ti AND g.dosage > 0) AS n_tv,
           count(*) FILTER (WHERE v.cls = 'x' AND g.dosage IS NOT NULL AND f.af > 0 AND f.af < 1) AS x_called,
           count(*) FILTER (WHERE v.cls = 'x' AND g.dosage = 1 AND f.af > 0 AND f.af < 1) AS x_het,
           coalesce(sum(2 * f.af * (1 - f.af)) FILTER (WHERE v.cls = 'x' AND g.dosage IS NOT NULL), 0)::DOUBLE
               AS x_exp_het
    FROM g JOIN vinfo v USING (variant_key) JOIN vfreq f USING (variant_key)
    GROUP BY g.sample ORDER BY g.sample"""
SPARSE_SAMPLE_COUNTS = """
    WITH t AS (SELECT count(*) AS n,
                      count(*) FILTER (WHERE v.cls = 'auto') AS auto_n,
                      count(*) FILTER (WHERE v.cls = 'x' AND f.af > 0 AND f.af < 1) AS x_n,
                      coalesce(sum(2 * f.af * (1 - f.af)) FILTER (WHERE v.cls = 'x'), 0)::DOUBLE AS x_exp
               FROM vinfo v JOIN vfreq f USING (variant_key)),
    s AS (SELECT c.sample,
                 count(*) FILTER (WHERE c.dosage IS NULL) AS missing,
                 count(*) FILTER (WHERE v.cls = 'auto' AND c.dosage IS NULL) AS auto_missing,
                 count(*) FILTER (WHERE v.cls = 'auto' AND c.dosage = 1) AS auto_het,
                 count(*) FILTER (WHERE v.snv AND v.ti AND c.dosage > 0) AS n_ti,
                 count(*) FILTER (WHERE v.snv AND NOT v.ti AND c.dosage > 0) AS n_tv,
                 count(*) FILTER (WHERE v.cls = 'x' AND c.dosage IS NULL AND f.af > 0 AND f.af < 1) AS x_missing,
                 count(*) FILTER (WHERE v.cls = 'x' AND c.dosage = 1 AND f.af > 0 AND f.af < 1) AS x_het,
                 coalesce(sum(2 * f.af * (1 - f.af)) FILTER (WHERE v.cls = 'x' AND c.dosage IS NULL), 0)::DOUBLE
                     AS x_missing_exp
          FROM c JOIN vinfo v USING (variant_key) JOIN vfreq f USING (variant_key)
          GROUP BY c.sample)
    SELECT p.sample, t.n, t.n - coalesce(s.missing, 0) AS called,
           t.auto_n - coalesce(s.auto_missing, 0) AS auto_called, coalesce(s.auto_het, 0) AS auto_het,
           coalesce(s.n_ti, 0) AS n_ti, coalesce(s.n_tv, 0) AS n_tv,
           t.x_n - coalesce(s.x_missing, 0) AS x_called, coalesce(s.x_het, 0) AS x_het,
           t.x_exp - coalesce(s.x_missing_exp, 0) AS x_exp_het
    FROM samples p CROSS JOIN t LEFT JOIN s USING (sample) ORDER BY p.sample"""


def _has_carriers(version_dir: Path) -> bool:
    return (version_dir / "samples.parquet").is_file() and any((version_dir / "carriers").glob("*/*.parquet"))


def chrom_class(chrom: str, pos: int) -> str:
    c = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if c in AUTOSOMES:
        return "auto"
    if c.upper() == "X":
        return "x_par" if any(lo <= pos <= hi for lo, hi in PAR_X) else "x"
    return "other"


@dataclass(frozen=True)
class ClinicalSex:
    """The sex recorded per sample in one clinical table (only values read as male or female)."""

    ref: str
    column: str
    by_sample: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.ref} (column {self.column})"


def normalise_sex(value) -> str | None:
    return SEX_VALUES.get(str(value).strip().lower()) if value is not None else None


def _sex_column(manifest: dict) -> str | None:
    return next((c["name"] for c in manifest.get("dictionary", []) if c["name"].lower() in SEX_COLUMNS), None)


def _read_columns(dv: DatasetVersion, columns: list[str]) -> dict:
    return pq.read_table(dv.path / dv.manifest["tables"]["table"]["file"], columns=columns).to_pydict()


def _participant_of_sample(catalog: Catalog) -> dict[str, str]:
    """sample -> participant from every clinical table that holds both (as withdrawals link them)."""
    out: dict[str, str] = {}
    for dv in catalog.all_versions():
        m = dv.manifest
        if m.get("kind") == "clinical" and m.get("participant_column") and m.get("sample_column"):
            try:
                t = _read_columns(dv, [m["sample_column"], m["participant_column"]])
            except (OSError, ValueError):
                continue
            out.update({str(s): str(p) for s, p in zip(t[m["sample_column"]], t[m["participant_column"]])
                        if s is not None and p is not None})
        elif m.get("kind") in ("fastq", "bam"):
            out.update({r["sample"]: r["participant"] for r in m.get("reads", [])
                        if r.get("sample") and r.get("participant")})
    return out


def _sex_by_sample(dv: DatasetVersion, links: dict[str, str]) -> ClinicalSex:
    m = dv.manifest
    column = _sex_column(m)
    if m.get("kind") != "clinical" or column is None:
        raise Conflict(f"{dv.ref} is not a clinical table with a sex column (one named "
                       f"{' or '.join(SEX_COLUMNS)}); name another with --clinical")
    sc, pc = m.get("sample_column"), m.get("participant_column")
    if sc is None and pc is None:
        raise Conflict(f"{dv.ref} has neither a sample nor a participant column to link it to the genotypes")
    t = _read_columns(dv, [c for c in (sc, pc, column) if c])
    by_sample: dict[str, str] = {}
    if pc:
        # A sample links to its participant through any clinical table (or read registration) that holds both.
        by_participant = {str(p): normalise_sex(x) for p, x in zip(t[pc], t[column]) if p is not None}
        by_sample.update({s: by_participant[p] for s, p in links.items() if by_participant.get(p)})
    if sc:
        by_sample.update({str(s): normalise_sex(x) for s, x in zip(t[sc], t[column])
                          if s is not None and normalise_sex(x)})
    return ClinicalSex(dv.ref, column, by_sample)


def clinical_sex(state: StateFolder, samples: set[str], clinical: DatasetVersion | None = None) -> ClinicalSex | None:
    """The recorded sex of these samples: from `clinical` if named, else from the clinical table of the
    catalog that covers most of them (None when no table covers any)."""
    catalog = Catalog(state)
    links = _participant_of_sample(catalog)
    if clinical is not None:
        found = _sex_by_sample(clinical, links)
        if not samples & found.by_sample.keys():
            raise Conflict(f"no sample of this VCF has a recorded sex in {found.label}: it neither holds their "
                           f"sample ids nor links to them through a participant id; name another with --clinical")
        return found
    best, best_overlap = None, 0
    for dv in catalog.all_versions():
        if dv.kind != "clinical" or _sex_column(dv.manifest) is None:
            continue
        try:
            found = _sex_by_sample(dv, links)
        except (Conflict, OSError, ValueError):
            continue  # an unusable table only means no comparison from it
        overlap = len(samples & found.by_sample.keys())
        if overlap and overlap >= best_overlap:  # ties: the later (newer) version wins
            best, best_overlap = found, overlap
    return best


def state_of_version(version_dir: Path) -> StateFolder | None:
    """The state folder a (published or draft) version lives in: $CIRN_HOME/datasets/<id>/<version>."""
    datasets = Path(version_dir).resolve().parent.parent
    return StateFolder(datasets.parent) if datasets.name == "datasets" else None


@dataclass(frozen=True)
class QcResult:
    samples: pa.Table
    variants: pa.Table
    sex_source: str | None = None   # the clinical table the inferred sex was compared with

    def summary(self, policy: QcPolicy) -> dict:
        s = self.samples.to_pydict()
        v = self.variants.to_pydict()
        return {
            "samples": len(s["sample"]),
            "samples_failed": sum(1 for x in s["pass"] if not x),
            "sex_mismatches": sum(1 for f in s.get("flags", []) if SEX_MISMATCH in f.split(",")),
            "clinical_sex": self.sex_source,
            "variants": len(v["variant_key"]),
            "variants_failed": sum(1 for x in v["pass"] if not x),
            "thresholds": policy.model_dump(),
        }


def _arrow(result) -> pa.Table:
    """A DuckDB result as an Arrow table (the method's name changed across DuckDB releases)."""
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        if hasattr(result, name):
            out = getattr(result, name)()
            return out.read_all() if hasattr(out, "read_all") else out
    raise RuntimeError("this DuckDB cannot return Arrow tables")


def compute_qc(version_dir: Path, policy: QcPolicy | None = None, stated_sex: ClinicalSex | None = None,
               sparse: bool | None = None) -> QcResult:
    """QC of the version in `version_dir`; `stated_sex` is the clinical sex to compare the chrX inference with.

    The counts come from the sparse carriers table when the version has one (`sparse` None), else
    from the dense genotypes; both give the same result (a test holds them to it).
    """
    policy = policy or QcPolicy()
    version_dir = Path(version_dir)
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    vpath = str(version_dir / "variants.parquet")
    gglob = str(version_dir / "genotypes" / "*" / "*.parquet")
    variants = pq.read_table(vpath, columns=["variant_key", "chrom", "pos", "ref", "alt"]).to_pydict()
    classes = [chrom_class(c, p) for c, p in zip(variants["chrom"], variants["pos"])]
    snv = [len(r) == 1 and len(a) == 1 and a not in ".*" for r, a in zip(variants["ref"], variants["alt"])]
    ti = [s and (r.upper(), a.upper()) in TRANSITIONS for s, r, a in zip(snv, variants["ref"], variants["alt"])]
    vinfo = pa.table({"variant_key": variants["variant_key"], "cls": classes, "snv": snv, "ti": ti})
    con.register("vinfo", vinfo)
    sparse = _has_carriers(version_dir) if sparse is None else sparse
    if sparse:
        con.execute(f"CREATE TEMP VIEW c AS SELECT variant_key, sample::VARCHAR AS sample, dosage "
                    f"FROM read_parquet('{version_dir / 'carriers' / '*' / '*.parquet'}', hive_partitioning=false)")
        con.register("samples", pq.read_table(version_dir / "samples.parquet", columns=["sample"]))
    else:
        con.execute(f"CREATE TEMP VIEW g AS SELECT variant_key, sample::VARCHAR AS sample, dosage "
                    f"FROM read_parquet('{gglob}', hive_partitioning=false)")
    vs = _arrow(con.sql(SPARSE_VARIANT_COUNTS if sparse else DENSE_VARIANT_COUNTS))
    vd = vs.to_pydict()
    by_key = {k: i for i, k in enumerate(variants["variant_key"])}
    af, call_rate, hwe, vpass, vreasons = [], [], [], [], []
    for i, key in enumerate(vd["variant_key"]):
        called, n = vd["called"][i], vd["n"][i]
        a = vd["ac"][i] / (2 * called) if called else None
        cr = called / n if n else 0.0
        cls = classes[by_key[key]]
        p = hwe_exact_p(vd["n_het"][i], vd["n_hom_ref"][i], vd["n_hom_alt"][i]) if cls == "auto" else None
        reasons = []
        if cr < policy.variant.min_call_rate:
            reasons.append(f"call rate {cr:.3f} < {policy.variant.min_call_rate}")
        if p is not None and p < policy.variant.min_hwe_p:
            reasons.append(f"HWE p {p:.2e} < {policy.variant.min_hwe_p:g}")
        if a is not None and policy.variant.min_af and min(a, 1 - a) < policy.variant.min_af:
            reasons.append(f"MAF {min(a, 1 - a):.4f} < {policy.variant.min_af}")
        af.append(a)
        call_rate.append(cr)
        hwe.append(p)
        vpass.append(not reasons)
        vreasons.append("; ".join(reasons))
    vk = vd["variant_key"]
    variant_table = pa.table({
        "variant_key": vk,
        "chrom": [variants["chrom"][by_key[k]] for k in vk],
        "pos": [variants["pos"][by_key[k]] for k in vk],
        "call_rate": call_rate, "af": af,
        "n_hom_ref": vd["n_hom_ref"], "n_het": vd["n_het"], "n_hom_alt": vd["n_hom_alt"],
        "hwe_p": pa.array(hwe, pa.float64()), "pass": vpass, "reasons": vreasons,
    })
    con.register("vfreq", pa.table({"variant_key": vk, "af": pa.array(af, pa.float64())}))
    ss = _arrow(con.sql(SPARSE_SAMPLE_COUNTS if sparse else DENSE_SAMPLE_COUNTS))
    sd = ss.to_pydict()
    het_rate = [h / c if c else None for h, c in zip(sd["auto_het"], sd["auto_called"])]
    present = [h for h in het_rate if h is not None]
    mean = sum(present) / len(present) if present else 0.0
    sdv = math.sqrt(sum((h - mean) ** 2 for h in present) / (len(present) - 1)) if len(present) > 1 else 0.0
    sp = policy.sample
    recorded = stated_sex.by_sample if stated_sex else {}
    out = {k: [] for k in ("call_rate", "het_rate", "het_z", "ti_tv", "x_f", "inferred_sex", "clinical_sex",
                           "flags", "pass", "reasons")}
    for i, sample in enumerate(sd["sample"]):
        cr = sd["called"][i] / sd["n"][i] if sd["n"][i] else 0.0
        hr = het_rate[i]
        z = (hr - mean) / sdv if hr is not None and sdv > 0 else (0.0 if hr is not None else None)
        titv = sd["n_ti"][i] / sd["n_tv"][i] if sd["n_tv"][i] else None
        exp_het = sd["x_exp_het"][i]
        f = 1 - sd["x_het"][i] / exp_het if sd["x_called"][i] and exp_het > 0 else None
        if f is None:
            sex = "unknown"
        elif f >= sp.male_min_x_f:
            sex = "male"
        elif f <= sp.female_max_x_f:
            sex = "female"
        else:
            sex = "ambiguous"
        reasons = []
        if cr < sp.min_call_rate:
            reasons.append(f"call rate {cr:.3f} < {sp.min_call_rate}")
        if z is not None and abs(z) > sp.max_het_deviation:
            reasons.append(f"heterozygosity {hr:.4f} is {z:+.1f} SD from the cohort mean")
        if titv is not None and not (sp.min_ti_tv <= titv <= sp.max_ti_tv):
            reasons.append(f"Ti/Tv {titv:.2f} outside {sp.min_ti_tv}-{sp.max_ti_tv}")
        if sex == "ambiguous":
            reasons.append(f"sex check ambiguous (chrX F {f:.2f})")
        stated = recorded.get(sample)
        flags = []
        if stated and sex in ("male", "female") and stated != sex:
            flags.append(SEX_MISMATCH)
            if sp.sex_mismatch_fails:
                reasons.append(f"sex mismatch: chrX F {f:.2f} says {sex}, the clinical table says {stated}")
        for k, val in (("call_rate", cr), ("het_rate", hr), ("het_z", z), ("ti_tv", titv), ("x_f", f),
                       ("inferred_sex", sex), ("clinical_sex", stated), ("flags", ",".join(flags)),
                       ("pass", not reasons), ("reasons", "; ".join(reasons))):
            out[k].append(val)
    sample_table = pa.table({
        "sample": sd["sample"], "n_variants": sd["n"], "n_called": sd["called"],
        "call_rate": out["call_rate"], "het_rate": pa.array(out["het_rate"], pa.float64()),
        "het_z": pa.array(out["het_z"], pa.float64()), "n_ti": sd["n_ti"], "n_tv": sd["n_tv"],
        "ti_tv": pa.array(out["ti_tv"], pa.float64()), "x_f": pa.array(out["x_f"], pa.float64()),
        "inferred_sex": out["inferred_sex"], "clinical_sex": pa.array(out["clinical_sex"], pa.string()),
        "flags": out["flags"], "pass": out["pass"], "reasons": out["reasons"],
    })
    con.close()
    return QcResult(sample_table, variant_table, stated_sex.label if stated_sex else None)


def write_qc(result: QcResult, out_dir: Path, policy: QcPolicy, title: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.samples, out_dir / SAMPLE_QC)
    pq.write_table(result.variants, out_dir / VARIANT_QC, compression="zstd")
    from .qc_report import render_report
    (out_dir / REPORT).write_text(render_report(result, policy, title), encoding="utf-8")
    return result.summary(policy)


def version_samples(version_dir: Path) -> set[str]:
    return set(pq.read_table(Path(version_dir) / "samples.parquet").column("sample").to_pylist())


def run_qc_into(version_dir: Path, out_dir: Path, policy: QcPolicy | None, title: str,
                clinical: DatasetVersion | None = None) -> dict:
    """Compute and write QC; the clinical sex comes from `clinical` or, if None, from the catalog the
    version lives in (at ingest too, so a clinical table published before the VCF is used)."""
    policy = policy or QcPolicy()
    state = state_of_version(version_dir)
    sex = clinical_sex(state, version_samples(version_dir), clinical) if state is not None else None
    return write_qc(compute_qc(version_dir, policy, sex), out_dir, policy, title)


# ---------------------------------------------------------------------------------------------
# The QC result provisioning uses


def recorded_dir(state: StateFolder, dv: DatasetVersion) -> Path:
    return state.root / RECORDED / dv.dataset_id / dv.version


def record_qc(state: StateFolder, dv: DatasetVersion, out_dir: Path, summary: dict) -> Path:
    """Keep a copy of a `cirn datasets qc` result with the catalog, replacing the previous one atomically."""
    from .extracts import swap_into_place
    from .publish import make_read_only, remove_tree
    target = recorded_dir(state, dv)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{dv.version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name in (SAMPLE_QC, VARIANT_QC, REPORT):
            shutil.copyfile(Path(out_dir) / name, tmp / name)
        (tmp / RECORD).write_text(json.dumps({
            "dataset": dv.ref, "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **{k: v for k, v in summary.items() if k != "thresholds"}, "thresholds": summary.get("thresholds"),
        }, indent=2, default=str), encoding="utf-8")
        make_read_only(tmp)
        swap_into_place(tmp, target)
    except BaseException:
        if tmp.exists():
            remove_tree(tmp)
        raise
    return target


@dataclass(frozen=True)
class QcVerdict:
    """The samples a version's newest QC result failed, and where that result comes from."""

    failed: frozenset[str]
    source: str


def qc_verdict(state: StateFolder, dv: DatasetVersion) -> QcVerdict | None:
    """The newest QC result of `dv`: a recorded `cirn datasets qc` run, else the QC run at ingest."""
    recorded = recorded_dir(state, dv)
    if (recorded / SAMPLE_QC).is_file():
        info = json.loads((recorded / RECORD).read_text(encoding="utf-8")) if (recorded / RECORD).is_file() else {}
        path, source = recorded / SAMPLE_QC, f"QC of {info.get('recorded_at', 'unknown time')} (cirn datasets qc)"
    elif (dv.path / "qc" / SAMPLE_QC).is_file():
        path, source = dv.path / "qc" / SAMPLE_QC, "QC at ingest"
    else:
        return None
    t = pq.read_table(path, columns=["sample", "pass"]).to_pydict()
    return QcVerdict(frozenset(s for s, ok in zip(t["sample"], t["pass"]) if not ok), source)
