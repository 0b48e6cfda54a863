"""A deterministic synthetic rare-disease cohort: clinical table plus matching bgzipped multi-sample VCF.

Same arguments, same bytes: everything is drawn from one seeded generator. Allele frequencies
follow a log-uniform spectrum between 1/(2N) and 0.5, so most variants are rare and few are
common, as in real cohorts; males carry no heterozygous calls on chrX outside the PARs, so the
sex check has something to find. Two samples are deliberately bad (low call rate, excess
heterozygosity) so that QC has something to flag, and one sample's genotypes are those of the
other sex than its participant's clinical record (a planted swap for the sex-mismatch check).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

# GRCh38 lengths; enough for positions and contig lines.
CHROM_LENGTHS = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555, "chr5": 181538259,
    "chr6": 170805979, "chr7": 159345973, "chr8": 145138636, "chr9": 138394717, "chr10": 133797422,
    "chr11": 135086622, "chr12": 133275309, "chr13": 114364328, "chr14": 107043718, "chr15": 101991189,
    "chr16": 90338345, "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895,
}
X_NONPAR = (2_781_480, 155_701_382)
X_MIN_AF = 0.15

DIAGNOSES = {
    "Duchenne muscular dystrophy": ["HP:0003560", "HP:0003236", "HP:0001270"],
    "Rett syndrome": ["HP:0002376", "HP:0001250", "HP:0002540"],
    "Marfan syndrome": ["HP:0001166", "HP:0001083", "HP:0002616"],
    "Spinal muscular atrophy": ["HP:0003202", "HP:0001252", "HP:0002380"],
    "Noonan syndrome": ["HP:0001631", "HP:0000316", "HP:0004322"],
    "Fabry disease": ["HP:0001014", "HP:0003401", "HP:0000083"],
    "Kabuki syndrome": ["HP:0000637", "HP:0001263", "HP:0000407"],
    "Moyamoya disease": ["HP:0011834", "HP:0001297", "HP:0002315"],
}
REGIONS = ["Seoul", "Busan", "Daegu", "Incheon", "Gwangju", "Daejeon", "Ulsan", "Gyeonggi", "Gangwon",
           "Chungbuk", "Chungnam", "Jeonbuk", "Jeonnam", "Gyeongbuk", "Gyeongnam", "Jeju"]
BASES = np.array(list("ACGT"))
TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}
TRANSVERSIONS = {"A": "CT", "G": "CT", "C": "AG", "T": "AG"}
MAX_DP = 60
# Planted QC problems (cohorts of at least 20): indices of SMP000008, SMP000014 and SMP000018.
LOW_CALL_RATE, EXCESS_HET, SEX_SWAPPED = 7, 13, 17


@dataclass(frozen=True)
class SynthOutput:
    clinical: Path
    vcf: Path
    index: Path
    participants: int
    variants: int


def participant_ids(n: int) -> list[str]:
    return [f"RD{i + 1:06d}" for i in range(n)]


def sample_ids(n: int) -> list[str]:
    return [f"SMP{i + 1:06d}" for i in range(n)]


def make_clinical(n: int, rng: np.random.Generator) -> list[dict]:
    pids, sids = participant_ids(n), sample_ids(n)
    sexes = rng.choice(["F", "M"], size=n)
    diagnoses = list(DIAGNOSES)
    rows, family, left_in_family = [], 0, 0
    for i in range(n):
        if left_in_family == 0:
            family += 1
            left_in_family = int(rng.choice([1, 2, 3], p=[0.5, 0.2, 0.3]))
        left_in_family -= 1
        diagnosis = diagnoses[int(rng.integers(len(diagnoses)))]
        terms = DIAGNOSES[diagnosis]
        hpo = sorted(set(rng.choice(terms, size=int(rng.integers(1, len(terms) + 1)), replace=False)))
        age = int(min(85, rng.gamma(2.0, 9.0)))
        enrolled = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5 * 365)))
        diagnosed = enrolled - dt.timedelta(days=int(rng.integers(0, 365 * max(1, min(age, 10)))))
        rows.append({
            "participant_id": pids[i], "sample_id": sids[i], "family_id": f"FAM{family:05d}",
            "age": age, "sex": str(sexes[i]), "region": REGIONS[int(rng.integers(len(REGIONS)))],
            "diagnosis": diagnosis, "hpo_terms": ";".join(hpo),
            "diagnosis_date": diagnosed.isoformat(), "enrolment_date": enrolled.isoformat(),
            "consent_date": enrolled.isoformat(),
        })
    return rows


def _positions(m: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    lengths = np.array(list(CHROM_LENGTHS.values()), dtype=float)
    counts = np.floor(m * lengths / lengths.sum()).astype(int)
    counts[: m - counts.sum()] += 1
    out = []
    for (chrom, length), count in zip(CHROM_LENGTHS.items(), counts):
        lo, hi = (X_NONPAR if chrom == "chrX" else (10_000, length - 10_000))
        pos = np.unique(rng.integers(lo, hi, size=count * 2 + 10))[:]
        pos = np.sort(rng.choice(pos, size=count, replace=False)) if count else pos[:0]
        out.append((chrom, pos))
    return out


def _tokens() -> np.ndarray:
    """FORMAT strings indexed by gt*MAX_DP + dp (gt 0 0/0, 1 0/1, 2 1/1, 3 missing)."""
    gts = ["0/0", "0/1", "1/1"]
    toks = [f"{g}:{dp}:{min(99, 3 * dp)}" for g in gts for dp in range(MAX_DP)]
    toks += ["./.:.:."] * MAX_DP
    return np.array(toks, dtype=object)


def header_lines(samples: list[str]) -> list[str]:
    lines = ["##fileformat=VCFv4.2", "##source=cirn-synth", "##reference=GRCh38"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in CHROM_LENGTHS.items()]
    lines += [
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called genotypes">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Combined depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        "#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    return lines


def write_vcf(path: Path, samples: list[str], males: np.ndarray, m: int, rng: np.random.Generator,
              progress: Callable[[int], None] | None = None, chunk: int = 500) -> int:
    """Write a bgzipped VCF of `m` biallelic SNVs; returns the number of records written."""
    import pysam
    n = len(samples)
    tokens = _tokens()
    missing_rate = np.full(n, 0.005)
    het_boost = np.zeros(n)
    if n >= 20:
        missing_rate[LOW_CALL_RATE] = 0.12   # a failing sample: low call rate
        het_boost[EXCESS_HET] = 0.25         # a failing sample: contamination-like excess heterozygosity
    written = 0
    with pysam.BGZFile(str(path), "wb") as out:
        out.write(("\n".join(header_lines(samples)) + "\n").encode())
        for chrom, positions in _positions(m, rng):
            on_x = chrom == "chrX"
            for start in range(0, len(positions), chunk):
                pos = positions[start:start + chunk]
                k = len(pos)
                af = np.exp(rng.uniform(np.log(1 / (2 * n)), np.log(0.5), size=k))
                if on_x:
                    # chrX sites are common ones (as the sex-check SNPs of an array are): a female's
                    # heterozygosity there then tells her from a male even in a small cohort.
                    af = np.maximum(af, X_MIN_AF)
                a1 = rng.random((k, n)) < af[:, None]
                a2 = rng.random((k, n)) < af[:, None]
                gt = a1.astype(np.int8) + a2.astype(np.int8)
                if on_x:
                    gt[:, males] = np.where(a1[:, males], 2, 0)
                if het_boost.any():
                    boost = rng.random((k, n)) < het_boost[None, :]
                    gt = np.where(boost, 1, gt)
                missing = rng.random((k, n)) < missing_rate[None, :]
                gt = np.where(missing, 3, gt)
                dp = np.clip(rng.poisson(30, size=(k, n)), 0, MAX_DP - 1)
                idx = gt.astype(np.int32) * MAX_DP + dp
                called = gt != 3
                ac = np.where(called, gt, 0).sum(axis=1)
                an = 2 * called.sum(axis=1)
                dp_sum = np.where(called, dp, 0).sum(axis=1)
                refs = BASES[rng.integers(0, 4, size=k)]
                is_ti = rng.random(k) < 0.68
                pick = rng.integers(0, 2, size=k)
                quals = rng.integers(30, 250, size=k)
                has_rs = rng.random(k) < 0.3
                lines = []
                for j in range(k):
                    ref = str(refs[j])
                    alt = TRANSITION[ref] if is_ti[j] else TRANSVERSIONS[ref][pick[j]]
                    vid = f"rs{int(pos[j]) * 7 % 99_999_989 + 1}" if has_rs[j] else "."
                    afv = ac[j] / an[j] if an[j] else 0.0
                    info = f"AC={ac[j]};AN={an[j]};AF={afv:.6g};DP={dp_sum[j]}"
                    lines.append(f"{chrom}\t{pos[j]}\t{vid}\t{ref}\t{alt}\t{quals[j]}\tPASS\t{info}\tGT:DP:GQ\t"
                                 + "\t".join(tokens[idx[j]].tolist()))
                out.write(("\n".join(lines) + "\n").encode())
                written += k
                if progress:
                    progress(k)
    return written


def synthesise(out_dir: Path, participants: int, variants: int, seed: int = 20261129,
               progress: Callable[[int], None] | None = None) -> SynthOutput:
    import pysam
    if participants < 1 or variants < 1:
        raise ValueError("--participants and --variants must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = make_clinical(participants, rng)
    clinical = out_dir / "clinical.csv"
    with open(clinical, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    males = np.array([r["sex"] == "M" for r in rows])
    if participants >= 20:
        males[SEX_SWAPPED] = not males[SEX_SWAPPED]  # genotypes of the other sex than the clinical record
    vcf = out_dir / "cohort.vcf.gz"
    written = write_vcf(vcf, [r["sample_id"] for r in rows], males, variants, rng, progress)
    pysam.tabix_index(str(vcf), preset="vcf", force=True, keep_original=True)
    return SynthOutput(clinical, vcf, Path(str(vcf) + ".tbi"), participants, written)
