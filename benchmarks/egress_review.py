"""Benchmark of the egress review service behind a real hub.

Submits N requests of F files each (some content shared between requests, as re-run outputs
are), then reports: submissions per second (snapshot + queueing, the part a researcher waits
for), how long the checks took to drain, p50/p95 latency of the reviewer's queue page and of
the queue API, and the content store's size against the raw bytes submitted. The clock starts
once one warm-up request has been checked, so the checks' start-up (loading their models) is
reported on its own (`warm_up_s`), not inside the drain time.

    .venv/bin/python benchmarks/egress_review.py [--requests 200] [--files 5] [--threads 4]
    .venv/bin/python benchmarks/egress_review.py --compare-sandbox   # checks in-process, then sandboxed
--compare-sandbox runs the whole benchmark twice in one run, against a fresh enclave each time:
first with the checks in the service's own process (policy egress.sandbox.enabled: false), then
in its checks worker processes (the shipped policy), and prints the ratio of the drain times.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from cirn.hub.auth import set_account
from cirn.hub.harness import add_project, fresh_enclave, new_hub

PASSWORD = "benchmark password"


def login(hub, name: str) -> requests.Session:
    http = requests.Session()
    r = http.get(f"{hub.url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    http.post(f"{hub.url}/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": xsrf}, timeout=30)
    assert http.get(f"{hub.url}/services/egress/", timeout=60).status_code == 200
    return http


def make_files(ws: Path, n_requests: int, n_files: int) -> tuple[list[list[str]], int]:
    """Per request: n_files-2 unique tables and texts, plus 2 files shared by every request."""
    shared = {"shared/methods.txt": "Methods: counts rounded to 5, cells below 10 suppressed.\n" * 40,
              "shared/lookup.csv": "code,label\n" + "".join(f"C{i},label {i}\n" for i in range(300))}
    for name, text in shared.items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    plan, raw = [], 0
    for r in range(n_requests):
        names = list(shared)[: min(2, n_files)]
        for k in range(n_files - len(names)):
            name = f"run{r:03d}/table{k}.csv"
            (ws / name).parent.mkdir(parents=True, exist_ok=True)
            rows = "".join(f"g{i},{20 + (r * 7 + i * 13 + k) % 400}\n" for i in range(120))
            (ws / name).write_text("group,count\n" + rows)
            names.append(name)
        plan.append(names)
        raw += sum((ws / n).stat().st_size for n in names)
    return plan, raw


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--queue-samples", type=int, default=40)
    ap.add_argument("--compare-sandbox", action="store_true",
                    help="run twice: checks in the service's process, then in its worker processes; print the ratio")
    args = ap.parse_args()
    if not args.compare_sandbox:
        print(json.dumps(run(args), indent=1))
        return
    results = {"in_process": run(args, sandbox=False), "sandboxed": run(args, sandbox=True)}
    results["sandboxed_vs_in_process_checks_drained"] = round(
        results["sandboxed"]["checks_drained_after_s"] / results["in_process"]["checks_drained_after_s"], 3)
    print(json.dumps(results, indent=1))


def run(args, sandbox: bool | None = None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="cirn-bench-egress-"))
    env = {}
    if sandbox is not None:
        import yaml

        from cirn.policies import load_policy
        raw = yaml.safe_load(open(load_policy.__globals__["DEFAULT_POLICY"], encoding="utf-8"))
        raw["egress"]["sandbox"]["enabled"] = sandbox
        policy_file = home.parent / f"{home.name}-policy.yaml"
        policy_file.write_text(yaml.safe_dump(raw, allow_unicode=True))
        env["CIRN_POLICY"] = str(policy_file)
    enclave = fresh_enclave(home)
    slug = "b" + uuid.uuid4().hex[:6] + "-bench"
    with enclave.db.session() as s:
        set_account(s, "bench", "alice", PASSWORD, groups=["researchers"])
        set_account(s, "bench", "rev1", PASSWORD, groups=["egress-reviewers"])
    ws = add_project(enclave, slug, "Benchmark", ["alice"], actor="bench")
    plan, raw_bytes = make_files(ws, args.requests, args.files)

    hub = new_hub(home, env=env)
    hub.start()
    try:
        deadline = time.time() + 120
        while requests.get(f"{hub.url}/services/egress/api/openapi.json", timeout=5).status_code != 200:
            if time.time() > deadline:
                raise SystemExit("the egress service did not start")
            time.sleep(0.5)
        login(hub, "alice")
        reviewer = login(hub, "rev1")
        token = hub.user_token("alice")
        headers = {"Authorization": f"token {token}"}
        api = f"{hub.url}/services/egress/api/"

        def submit(names: list[str]) -> float:
            t = time.perf_counter()
            r = requests.post(api + "requests", headers=headers, timeout=120, json={
                "project": slug, "reason": "benchmark", "files": [{"path": n} for n in names]})
            assert r.status_code == 201, r.text
            return time.perf_counter() - t

        # Start-up (the checks loading their models, in the service or in its worker processes) is
        # timed apart: one request is checked before the clock starts.
        tw = time.perf_counter()
        submit(plan[0][:1])
        while "submitted" in [r["state"] for r in requests.get(api + "requests", headers=headers, timeout=60).json()["requests"]]:
            if time.perf_counter() - tw > 600:
                raise SystemExit("the warm-up request was not checked in 10 minutes")
            time.sleep(0.2)
        warm_up_seconds = time.perf_counter() - tw

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            latencies = list(pool.map(submit, plan))
        submit_seconds = time.perf_counter() - t0

        # the reviewer's queue while the checks are running, then once they are done
        def sample(n: int) -> tuple[list[float], list[float]]:
            page, apis = [], []
            for _ in range(n):
                t = time.perf_counter()
                assert reviewer.get(f"{hub.url}/services/egress/queue", timeout=60).status_code == 200
                page.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert reviewer.get(api + "queue", timeout=60).status_code == 200
                apis.append(time.perf_counter() - t)
            return page, apis

        busy_page, busy_api = sample(max(5, args.queue_samples // 4))
        t1 = time.perf_counter()
        while True:
            states = [r["state"] for r in requests.get(api + "requests", headers=headers, timeout=60).json()["requests"]]
            if "submitted" not in states:
                break
            if time.perf_counter() - t1 > 1800:
                raise SystemExit("checks did not drain in 30 minutes")
            time.sleep(0.5)
        checks_seconds = time.perf_counter() - t0
        page, apis = sample(args.queue_samples)
        store_bytes = enclave.state.egress_store.exists() and sum(
            p.stat().st_size for p in enclave.state.egress_store.glob("??/*"))
        blobs = len(list(enclave.state.egress_store.glob("??/*")))
        result = {
            "requests": args.requests, "files_per_request": args.files, "client_threads": args.threads,
            "submissions_per_s": round(args.requests / submit_seconds, 2),
            "files_per_s": round(args.requests * args.files / submit_seconds, 1),
            "submit_latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "submit_latency_p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "warm_up_s": round(warm_up_seconds, 1),
            "checks_drained_after_s": round(checks_seconds, 1),
            "queue_page_p50_ms": round(statistics.median(page) * 1000, 1),
            "queue_page_p95_ms": round(percentile(page, 95) * 1000, 1),
            "queue_page_p95_ms_while_checking": round(percentile(busy_page, 95) * 1000, 1),
            "queue_api_p95_ms": round(percentile(apis, 95) * 1000, 1),
            "queue_length": len(requests.get(api + "queue", headers={"Authorization": f"token {hub.user_token('rev1')}"},
                                             timeout=60).json()["requests"]) - 1,  # less the warm-up request
            "raw_bytes": raw_bytes, "store_bytes": store_bytes, "store_blobs": blobs,
            "store_vs_raw": round(store_bytes / raw_bytes, 3),
        }
        return result
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
