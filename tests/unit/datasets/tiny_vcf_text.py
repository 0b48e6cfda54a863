"""Tiny hand-made VCF text shared by the datasets unit tests. A module of its own (not the
conftest) so tests import it by a name no other test folder uses."""

from __future__ import annotations

from pathlib import Path

import pysam

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=1000000>
##contig=<ID=chr2,length=1000000>
##contig=<ID=chrX,length=156040895>
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD
"""

# Hand-made: QC expectations in test_qc.py are worked out from these lines by hand.
RECORDS = [
    "chr1\t100\trs1\tA\tG\t50\tPASS\tDP=40;AF=0.5;DB\tGT:DP:GQ\t0/0:10:30\t0/1:11:31\t1/1:12:32\t0/1:13:33",
    "chr1\t200\t.\tC\tA\t.\tq10\tDP=30\tGT:DP:GQ\t0/1:10:30\t0/0:9:29\t./.:.:.\t0/0:8:28",
    "chr1\t300\t.\tG\tA\t60\tPASS\tDP=30\tGT:DP:GQ\t1/1:10:30\t0|1:9:29\t0/1:7:27\t0/0:8:28",
    "chr2\t400\t.\tT\tG\t70\tPASS\tDP=30\tGT:DP:GQ\t0/0:10:30\t0/0:9:29\t0/1:7:27\t1/1:8:28",
    "chrX\t5000000\t.\tA\tG\t70\tPASS\tDP=30\tGT:DP:GQ\t0/1:10:30\t1/1:9:29\t0/0:7:27\t0/0:8:28",
    "chrX\t6000000\t.\tC\tT\t70\tPASS\tDP=30\tGT:DP:GQ\t0/1:10:30\t0/0:9:29\t1/1:7:27\t0/1:8:28",
]


def write_bgzip(path: Path, text: str) -> Path:
    with pysam.BGZFile(str(path), "wb") as fh:
        fh.write(text.encode())
    return path
