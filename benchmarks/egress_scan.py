"""Speed of `cirn egress scan` against Presidio's BatchAnalyzerEngine, with equal PII recall.

Generates a CSV of aggregate and free-text columns and a notebook with the same kind of
content, plants known PII (and known false-positive traps) at a fixed rate, then in one run:
  1. times our full scan (every check) of each file -> MB/s;
  2. times our PII scanner (prefilter + Presidio on candidate lines) and plain Presidio
     (BatchAnalyzerEngine with the same recognizers, batch size and processes given) over the
     same lines -> throughput ratio;
  3. checks that both found the same PII, and that every planted item was found.

    .venv/bin/python benchmarks/egress_scan.py                      # 100 MB CSV + 20 MB notebook
    .venv/bin/python benchmarks/egress_scan.py --csv-mb 5 --notebook-mb 1   # quick
    .venv/bin/python benchmarks/egress_scan.py --sandbox --presidio-mb 0     # in-process vs sandboxed scan
--sandbox times the full scan twice, in this process and in a checks worker process (the
policy's egress.sandbox limits, as `cirn egress scan` and the review service run it), and prints
the ratio.
Presidio is slow on 100 MB; --presidio-mb N compares both engines on the first N MB of the text
(same text for both) while our full-file throughput is still measured on everything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import nbformat

WORDS = ("patient cohort follow up visit treatment response stable improved baseline adverse event mild moderate "
         "severe dose reduced increased laboratory value within normal range imaging showed no progression "
         "환자 추적 관찰 결과 안정 호전 치료 반응 검사 정상 범위 영상 소견 진행 없음 투약 용량 조절").split()
REGIONS = ["Seoul", "Busan", "Incheon", "Daegu", "Gwangju", "Daejeon", "Ulsan", "Gyeonggi"]
TRAPS = ["run 202403151230 done", "rs12345678 associated", "beta 0.8503121234567", "ratio 3.1415926535897",
         "epoch 1700000000000", "M12345678 no context", "name: str"]
PII = [  # (text, entity)
    ("연락처 010-{a:04d}-{b:04d}", "KR_PHONE"),
    ("주민등록번호 85{m:02d}12-1{b:06d}", "KR_RRN"),
    ("mail: user{a}@example.org", "EMAIL_ADDRESS"),
    ("성명: 김민{s}", "PERSON"),
    ("여권번호 M{a:03d}A{b:04d}", "KR_PASSPORT"),
    ("masked 900101-2******", "KR_RRN_MASKED"),
]
SYLLABLES = "준서연우지호민하"


def free_text(rng: random.Random, planted: list, pii_every: int, row: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
    if row % pii_every == 0:
        template, entity = PII[(row // pii_every) % len(PII)]
        words += " " + template.format(a=rng.randint(100, 999), b=rng.randint(1000, 9999), m=rng.randint(1, 12),
                                       s=rng.choice(SYLLABLES))
        planted.append(entity)
    elif row % 97 == 0:
        words += " " + rng.choice(TRAPS)
    return words


def make_csv(path: Path, size_mb: float, rng: random.Random, pii_every: int) -> int:
    planted: list[str] = []
    target = int(size_mb * 1_000_000)
    written, row = 0, 0
    with open(path, "w", encoding="utf-8") as fh:
        header = "region,age_group,sex,n,mean_sbp,pct,comment\n"
        fh.write(header)
        written += len(header.encode())
        lines = []
        while written < target:
            row += 1
            line = (f"{rng.choice(REGIONS)},{rng.choice(['20-39', '40-59', '60+'])},{rng.choice('MF')},"
                    f"{rng.randint(10, 5000)},{rng.uniform(100, 160):.1f},{rng.uniform(0, 100):.1f},"
                    f"\"{free_text(rng, planted, pii_every, row)}\"\n")
            lines.append(line)
            written += len(line.encode())
            if len(lines) >= 10000:
                fh.write("".join(lines))
                lines = []
        fh.write("".join(lines))
    return len(planted)


def make_notebook(path: Path, size_mb: float, rng: random.Random, pii_every: int) -> int:
    planted: list[str] = []
    nb = nbformat.v4.new_notebook()
    target, size, row = int(size_mb * 1_000_000), 0, 0
    while size < target:
        text_lines = []
        for _ in range(200):
            row += 1
            text_lines.append(free_text(rng, planted, pii_every, row))
        stream = "\n".join(text_lines) + "\n"
        table = "<table><tr><th>group</th><th>n</th></tr>" + "".join(
            f"<tr><td>{g}</td><td>{rng.randint(10, 900)}</td></tr>" for g in REGIONS) + "</table>"
        cell = nbformat.v4.new_code_cell("summary = df.groupby('region').size()\nprint(notes)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stream),
                        nbformat.v4.new_output("execute_result", data={"text/html": table}, execution_count=1)]
        nb.cells.append(cell)
        size += len(stream.encode()) + len(table) + 200
    nbformat.write(nb, str(path))
    return len(planted)


def texts_of(csv_path: Path, nb_path: Path) -> list[str]:
    """The lines both engines read: every CSV line and every line of every notebook output."""
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        lines += cell.source.splitlines()
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                lines += out.text.splitlines()
            for value in out.get("data", {}).values():
                lines += str(value).splitlines()
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv-mb", type=float, default=100.0, help="size of the generated CSV (MB)")
    ap.add_argument("--notebook-mb", type=float, default=20.0, help="size of the generated notebook (MB)")
    ap.add_argument("--presidio-mb", type=float, default=None, help="compare the PII engines on the first N MB of text only (default: all; 0 skips the comparison)")
    ap.add_argument("--batch-size", type=int, default=500, help="Presidio BatchAnalyzerEngine batch_size")
    ap.add_argument("--processes", type=int, default=1, help="Presidio BatchAnalyzerEngine n_process")
    ap.add_argument("--presidio-enhancer", choices=["shipped", "ours"], default="shipped",
                    help="Presidio's context enhancer: the LemmaContextAwareEnhancer it ships with (default), or the "
                         "no-op one our scanner uses with the no-op NLP engine (same results, Presidio runs faster)")
    ap.add_argument("--pii-every", type=int, default=5000, help="plant one PII item every N free-text rows")
    ap.add_argument("--workdir", default=None, help="where to write the generated files (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse the files already in --workdir")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object as well")
    ap.add_argument("--sandbox", action="store_true",
                    help="also scan each file in a checks worker process and print sandboxed/in-process time")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up in a log file as it happens

    from cirn.egress.checks import scan_paths
    from cirn.egress.checks.pii import PiiScanner
    from cirn.policies.egress_rules import EgressPolicy
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine

    rng = random.Random(20240401)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cirn-egress-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path, nb_path = workdir / "aggregate.csv", workdir / "analysis.ipynb"
    t = time.perf_counter()
    if args.reuse and csv_path.exists() and nb_path.exists():
        planted_csv = planted_nb = "?"
    else:
        planted_csv = make_csv(csv_path, args.csv_mb, rng, args.pii_every)
        planted_nb = make_notebook(nb_path, args.notebook_mb, rng, args.pii_every)
    print(f"generated {csv_path.stat().st_size / 1e6:.1f} MB CSV ({planted_csv} PII planted) and "
          f"{nb_path.stat().st_size / 1e6:.1f} MB notebook ({planted_nb} PII planted) in {time.perf_counter() - t:.0f}s")

    policy = EgressPolicy(max_file_bytes=10**12)
    figures: dict = {"cpu_cores": os.cpu_count()}
    from cirn.egress.checks import ScanContext
    context = ScanContext(policy)  # load Presidio once, outside the timed scans
    (workdir / "warmup.txt").write_text("x")
    scan_paths([workdir / "warmup.txt"], context=context)
    sandbox = None
    if args.sandbox:
        from cirn.egress.checks import ScanSandbox
        sandbox = ScanSandbox(policy, workers=1)
        scan_paths([workdir / "warmup.txt"], policy, sandbox=sandbox)  # the worker has loaded the engine
    for label, path in (("csv", csv_path), ("notebook", nb_path)):
        size = path.stat().st_size / 1e6
        t0, c0 = time.perf_counter(), time.process_time()
        report = scan_paths([path], context=context)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n_pii = sum(1 for f in report.files[0].findings if f.check.startswith("pii."))
        figures[f"scan_{label}_mb_per_s"] = round(size / wall, 1)
        figures[f"scan_{label}_mb_per_cpu_s"] = round(size / cpu, 1)
        print(f"full scan of the {label}: {size:.1f} MB in {wall:.1f}s wall / {cpu:.1f}s CPU = "
              f"{size / wall:.1f} MB/s ({size / cpu:.1f} MB per CPU-second); verdict {report.verdict.label}, "
              f"{len(report.files[0].findings)} findings ({n_pii} PII, capped per check)")
        if sandbox is not None:
            t0 = time.perf_counter()
            boxed = scan_paths([path], policy, sandbox=sandbox)
            boxed_wall = time.perf_counter() - t0
            same = boxed.to_dict() == report.to_dict()
            figures[f"sandboxed_{label}_s"], figures[f"in_process_{label}_s"] = round(boxed_wall, 2), round(wall, 2)
            figures[f"sandbox_ratio_{label}"] = round(boxed_wall / wall, 3)
            print(f"  in a checks worker process: {boxed_wall:.1f}s wall; sandboxed / in-process = "
                  f"{boxed_wall / wall:.3f}; same report: {same}")
    if sandbox is not None:
        sandbox.close()
        total_in = sum(figures[f"in_process_{k}_s"] for k in ("csv", "notebook"))
        total_box = sum(figures[f"sandboxed_{k}_s"] for k in ("csv", "notebook"))
        figures["sandbox_ratio"] = round(total_box / total_in, 3)
        print(f"sandboxed / in-process over both files: {total_box:.1f}s / {total_in:.1f}s = {total_box / total_in:.3f}")

    if args.presidio_mb == 0:  # our throughput only
        if args.json:
            print(json.dumps(figures))
        return 0
    lines = texts_of(csv_path, nb_path)
    if args.presidio_mb:
        budget, kept = int(args.presidio_mb * 1e6), []
        for line in lines:
            budget -= len(line.encode()) + 1
            if budget < 0:
                break
            kept.append(line)
        lines = kept
    text = "\n".join(lines)
    mb = len(text.encode()) / 1e6
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    scanner = PiiScanner(policy)
    t0 = time.perf_counter()
    ours_hits = scanner.scan(text)
    ours_s = time.perf_counter() - t0
    import bisect
    ours = {(bisect.bisect_right(starts, h.start) - 1, h.entity, h.value) for h in ours_hits}

    presidio = scanner.analyzer
    if args.presidio_enhancer == "shipped":
        presidio = AnalyzerEngine(registry=presidio.registry, nlp_engine=presidio.nlp_engine,
                                  supported_languages=presidio.supported_languages,
                                  default_score_threshold=presidio.default_score_threshold)
    batch = BatchAnalyzerEngine(analyzer_engine=presidio)
    t0 = time.perf_counter()
    results = batch.analyze_iterator(lines, language=scanner.language, batch_size=args.batch_size,
                                     n_process=args.processes, entities=scanner.entities,
                                     regex_flags=scanner.regex_flags)
    presidio_s = time.perf_counter() - t0
    theirs = {(i, r.entity_type, lines[i][r.start:r.end]) for i, rs in enumerate(results) for r in rs}

    same = ours == theirs
    figures.update({
        "pii_text_mb": round(mb, 1), "ours_pii_mb_per_s": round(mb / ours_s, 1),
        "presidio_batch_mb_per_s": round(mb / presidio_s, 2), "throughput_ratio": round(presidio_s / ours_s, 1),
        "presidio_batch_size": args.batch_size, "presidio_processes": args.processes,
        "presidio_enhancer": args.presidio_enhancer,
        "pii_found_ours": len(ours), "pii_found_presidio": len(theirs), "same_pii": same,
    })
    print(f"PII over {mb:.1f} MB of text ({len(lines)} lines): ours {ours_s:.1f}s ({mb / ours_s:.1f} MB/s), "
          f"Presidio BatchAnalyzerEngine (batch_size={args.batch_size}, n_process={args.processes}, "
          f"{args.presidio_enhancer} context enhancer) "
          f"{presidio_s:.1f}s ({mb / presidio_s:.2f} MB/s): {presidio_s / ours_s:.1f}x")
    print(f"PII found: ours {len(ours)}, Presidio {len(theirs)}; same set: {same}")
    if not same:
        print("  only ours:", sorted(ours - theirs)[:10])
        print("  only Presidio:", sorted(theirs - ours)[:10])
    if args.json:
        print(json.dumps(figures))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
