"""Sample and variant QC of a published (or draft) VCF dataset, computed with DuckDB over its Parquet.

Sample QC: call rate, autosomal heterozygosity rate (and its z-score in the cohort), Ti/Tv of the
SNVs the sample carries, and the sex check from chrX: the inbreeding coefficient
F = 1 - observed/expected heterozygous calls on non-PAR chrX (expected from cohort allele
frequencies, as PLINK's --check-sex does). Variant QC: call rate, alternate allele frequency and
the Hardy-Weinberg exact p (Wigginton, Cutler & Abecasis 2005) on autosomes.
Thresholds come from the policy's `qc` section; every failed row names its reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cirn.policies.qc_rules import QcPolicy

SAMPLE_QC = "sample_qc.parquet"
VARIANT_QC = "variant_qc.parquet"
REPORT = "report.html"
AUTOSOMES = {str(i) for i in range(1, 23)}
# GRCh38 pseudo-autosomal regions of chrX: heterozygous calls there are expected in males.
PAR_X = ((10_001, 2_781_479), (155_701_383, 156_030_895))
TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


@lru_cache(maxsize=200_000)
def hwe_exact_p(n_het: int, n_hom1: int, n_hom2: int) -> float:
    """Two-sided Hardy-Weinberg exact p for one biallelic site (Wigginton et al. 2005, SNPHWE)."""
    if n_het < 0 or n_hom1 < 0 or n_hom2 < 0:
        raise ValueError("genotype counts must be non-negative")
    n = n_het + n_hom1 + n_hom2
    if n == 0:
        return 1.0
    hom_rare, hom_common = min(n_hom1, n_hom2), max(n_hom1, n_hom2)
    rare = 2 * hom_rare + n_het
    probs = [0.0] * (rare + 1)
    mid = rare * (2 * n - rare) // (2 * n)
    if (rare & 1) ^ (mid & 1):
        mid += 1
    probs[mid] = 1.0
    total = 1.0
    cur_hets, cur_hr = mid, (rare - mid) // 2
    cur_hc = n - cur_hets - cur_hr
    while cur_hets >= 2:
        probs[cur_hets - 2] = probs[cur_hets] * cur_hets * (cur_hets - 1) / (4.0 * (cur_hr + 1) * (cur_hc + 1))
        total += probs[cur_hets - 2]
        cur_hets -= 2
        cur_hr += 1
        cur_hc += 1
    cur_hets, cur_hr = mid, (rare - mid) // 2
    cur_hc = n - cur_hets - cur_hr
    while cur_hets <= rare - 2:
        probs[cur_hets + 2] = probs[cur_hets] * 4.0 * cur_hr * cur_hc / ((cur_hets + 2) * (cur_hets + 1))
        total += probs[cur_hets + 2]
        cur_hets += 2
        cur_hr -= 1
        cur_hc -= 1
    target = probs[n_het]
    p = sum(x for x in probs if x <= target * (1 + 1e-9)) / total
    return min(1.0, p)


def chrom_class(chrom: str, pos: int) -> str:
    c = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if c in AUTOSOMES:
        return "auto"
    if c.upper() == "X":
        return "x_par" if any(lo <= pos <= hi for lo, hi in PAR_X) else "x"
    return "other"


@dataclass(frozen=True)
class QcResult:
    samples: pa.Table
    variants: pa.Table

    def summary(self, policy: QcPolicy) -> dict:
        s = self.samples.to_pydict()
        v = self.variants.to_pydict()
        return {
            "samples": len(s["sample"]),
            "samples_failed": sum(1 for x in s["pass"] if not x),
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


def compute_qc(version_dir: Path, policy: QcPolicy | None = None) -> QcResult:
    policy = policy or QcPolicy()
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
    con.execute(f"CREATE TEMP VIEW g AS SELECT variant_key, sample::VARCHAR AS sample, dosage "
                f"FROM read_parquet('{gglob}', hive_partitioning=false)")
    vs = con.sql("""
        SELECT variant_key, count(*) AS n, count(dosage) AS called,
               count(*) FILTER (WHERE dosage = 0) AS n_hom_ref,
               count(*) FILTER (WHERE dosage = 1) AS n_het,
               count(*) FILTER (WHERE dosage = 2) AS n_hom_alt,
               coalesce(sum(dosage), 0)::BIGINT AS ac
        FROM g GROUP BY variant_key ORDER BY variant_key""")
    vs = _arrow(vs)
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
    ss = con.sql("""
        SELECT g.sample,
               count(*) AS n, count(g.dosage) AS called,
               count(*) FILTER (WHERE v.cls = 'auto' AND g.dosage IS NOT NULL) AS auto_called,
               count(*) FILTER (WHERE v.cls = 'auto' AND g.dosage = 1) AS auto_het,
               count(*) FILTER (WHERE v.snv AND v.ti AND g.dosage > 0) AS n_ti,
               count(*) FILTER (WHERE v.snv AND NOT v.ti AND g.dosage > 0) AS n_tv,
               count(*) FILTER (WHERE v.cls = 'x' AND g.dosage IS NOT NULL AND f.af > 0 AND f.af < 1) AS x_called,
               count(*) FILTER (WHERE v.cls = 'x' AND g.dosage = 1 AND f.af > 0 AND f.af < 1) AS x_het,
               coalesce(sum(2 * f.af * (1 - f.af)) FILTER (WHERE v.cls = 'x' AND g.dosage IS NOT NULL), 0)::DOUBLE AS x_exp_het
        FROM g JOIN vinfo v USING (variant_key) JOIN vfreq f USING (variant_key)
        GROUP BY g.sample ORDER BY g.sample""")
    ss = _arrow(ss)
    sd = ss.to_pydict()
    het_rate = [h / c if c else None for h, c in zip(sd["auto_het"], sd["auto_called"])]
    present = [h for h in het_rate if h is not None]
    mean = sum(present) / len(present) if present else 0.0
    sdv = math.sqrt(sum((h - mean) ** 2 for h in present) / (len(present) - 1)) if len(present) > 1 else 0.0
    sp = policy.sample
    out = {k: [] for k in ("call_rate", "het_rate", "het_z", "ti_tv", "x_f", "inferred_sex", "pass", "reasons")}
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
        for k, val in (("call_rate", cr), ("het_rate", hr), ("het_z", z), ("ti_tv", titv), ("x_f", f),
                       ("inferred_sex", sex), ("pass", not reasons), ("reasons", "; ".join(reasons))):
            out[k].append(val)
    sample_table = pa.table({
        "sample": sd["sample"], "n_variants": sd["n"], "n_called": sd["called"],
        "call_rate": out["call_rate"], "het_rate": pa.array(out["het_rate"], pa.float64()),
        "het_z": pa.array(out["het_z"], pa.float64()), "n_ti": sd["n_ti"], "n_tv": sd["n_tv"],
        "ti_tv": pa.array(out["ti_tv"], pa.float64()), "x_f": pa.array(out["x_f"], pa.float64()),
        "inferred_sex": out["inferred_sex"], "pass": out["pass"], "reasons": out["reasons"],
    })
    con.close()
    return QcResult(sample_table, variant_table)


def write_qc(result: QcResult, out_dir: Path, policy: QcPolicy, title: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.samples, out_dir / SAMPLE_QC)
    pq.write_table(result.variants, out_dir / VARIANT_QC, compression="zstd")
    from .qc_report import render_report
    (out_dir / REPORT).write_text(render_report(result, policy, title), encoding="utf-8")
    return result.summary(policy)


def run_qc_into(version_dir: Path, out_dir: Path, policy: QcPolicy | None, title: str) -> dict:
    policy = policy or QcPolicy()
    return write_qc(compute_qc(version_dir, policy), out_dir, policy, title)
