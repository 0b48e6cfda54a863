"""Spawn benchmark: time from the REST API's start request to a ready server.

Runs, in one process and one run, the project spawner (policy checks, per-project internal
network, bind mounts, hardening) and a plain DockerSpawner (same image, an internal network too)
through a real hub each: 10 sequential spawns, then 20 concurrent ones, and prints p50/p95 and
the project spawner's ratio to the plain one. Goal: the project spawner adds < 10% to p50, and all
20 concurrent spawns succeed.

    .venv/bin/python benchmarks/spawn.py [--sequential 10] [--concurrent 20]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import requests

from cirn import projects
from cirn.enclave import Enclave
from cirn.hub.harness import new_hub, remove_test_objects
from cirn.images.build import NOTEBOOK_IMAGE, build_all

PLAIN_CONFIG = """
import docker as _docker
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
_net = _docker.from_env().networks.get({net!r})
_gw = _net.attrs["IPAM"]["Config"][0]["Gateway"]
c.DockerSpawner.image = {image!r}
c.DockerSpawner.network_name = {net!r}
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.pull_policy = "never"
c.DockerSpawner.prefix = {prefix!r}
c.DockerSpawner.hub_connect_url = "http://%s:{api_port}" % _gw
c.DockerSpawner.extra_create_kwargs = {{"labels": {{"org.cirn.project": {prefix!r}}}}}
c.DockerSpawner.start_timeout = 180
c.DockerSpawner.http_timeout = 180
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_spawn(hub, user: str, server: str) -> float:
    """Seconds from the start request to the hub's `ready` progress event.

    The progress event stream tells the moment the server is ready without polling, which would
    load the hub (and slow what is measured) with 20 spawns in flight.
    """
    t0 = time.perf_counter()
    r = requests.post(f"{hub.api}/users/{user}/servers/{server}", headers=hub.headers(), timeout=300)
    if r.status_code == 201:
        return time.perf_counter() - t0
    if r.status_code != 202:
        raise RuntimeError(f"{user}/{server}: {r.status_code} {r.text[:200]}")
    with requests.get(f"{hub.api}/users/{user}/servers/{server}/progress", headers=hub.headers(),
                      stream=True, timeout=300) as events:
        for line in events.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("ready"):
                return time.perf_counter() - t0
            if event.get("failed"):
                raise RuntimeError(f"{user}/{server} failed: {event.get('message')}")
    raise RuntimeError(f"{user}/{server}: progress stream ended before ready")


def wait_gone(hub, user, server):
    for _ in range(600):
        if hub.server_model(user, server) is None:
            return
        time.sleep(0.5)


def run_suite(hub, users: list[str], server_for, sequential: int, concurrent: int) -> dict:
    seq = []
    for i in range(sequential):
        user = users[0]
        seq.append(timed_spawn(hub, user, server_for(user)))
        hub.stop_server(user, server_for(user))
        wait_gone(hub, user, server_for(user))
    with cf.ThreadPoolExecutor(concurrent) as pool:
        futures = {pool.submit(timed_spawn, hub, u, server_for(u)): u for u in users[:concurrent]}
        conc, failures = [], []
        for fut in cf.as_completed(futures):
            try:
                conc.append(fut.result())
            except Exception as exc:  # counted, reported
                failures.append(str(exc))
    for u in users[:concurrent]:
        hub.stop_server(u, server_for(u))
    for u in users[:concurrent]:
        wait_gone(hub, u, server_for(u))
    return {"seq": seq, "conc": conc, "failures": failures}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequential", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=20)
    args = ap.parse_args()
    build_all(progress=lambda m: None)
    client = docker.from_env()
    prefix = "b" + uuid.uuid4().hex[:6]
    users = [f"bench{i:02d}" for i in range(max(args.concurrent, 1))]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Project spawner: one project with every bench user as a member, two granted extracts.
        home = Path(tmp) / "project"
        enclave = Enclave.from_env({"CIRN_HOME": str(home)})
        enclave.init()
        slug = f"{prefix}-bench"
        with enclave.db.session() as s:
            projects.create_project(s, "bench", slug, "Benchmark", dt.date.today() + dt.timedelta(days=1))
            for u in users:
                projects.add_member(s, "bench", slug, u)
            for ds in ("cohort", "genotypes"):
                projects.grant(s, "bench", slug, ds, "1")
        for ds in ("cohort", "genotypes"):
            d = enclave.state.project_data(slug) / ds
            d.mkdir(parents=True)
            (d / "table.csv").write_text("a,b\n1,2\n")
        ws = enclave.state.project_workspace(slug)
        ws.mkdir(parents=True)
        os.chown(ws, 1000, 1000)
        hub = new_hub(home, reconcile_interval=60)
        hub.start()
        try:
            for u in users:
                hub.create_user(u)
            results["project"] = run_suite(hub, users, lambda u: slug, args.sequential, args.concurrent)
        finally:
            hub.stop()
            remove_test_objects(client, prefix)
        # Plain DockerSpawner: same image, its own internal network, named servers.
        plain_home = Path(tmp) / "plain"
        Enclave.from_env({"CIRN_HOME": str(plain_home)}).init()
        net = client.networks.create(f"cirn-proj-{prefix}-plain", internal=True)
        hub = new_hub(plain_home, reconcile_interval=60)
        hub.extra_config = PLAIN_CONFIG.format(net=net.name, image=NOTEBOOK_IMAGE, prefix=f"{prefix}-plain",
                                               api_port=hub.api_port)
        hub.start()
        try:
            for u in users:
                hub.create_user(u)
            results["plain"] = run_suite(hub, users, lambda u: "plain", args.sequential, args.concurrent)
        finally:
            hub.stop()
            for c in client.containers.list(all=True, filters={"label": f"org.cirn.project={prefix}-plain"}):
                c.remove(force=True)
            net.remove()
    print(f"spawn benchmark: {args.sequential} sequential, {args.concurrent} concurrent, on {os.cpu_count()} cores")
    print(f"{'spawner':<10} {'seq p50':>8} {'seq p95':>8} {'conc p50':>9} {'conc p95':>9} {'ok':>6}")
    for name in ("plain", "project"):
        r = results[name]
        print(f"{name:<10} {statistics.median(r['seq']):8.2f} {pct(r['seq'], .95):8.2f} "
              f"{statistics.median(r['conc']) if r['conc'] else float('nan'):9.2f} "
              f"{pct(r['conc'], .95) if r['conc'] else float('nan'):9.2f} {len(r['conc'])}/{args.concurrent}")
    ratio = statistics.median(results["project"]["seq"]) / statistics.median(results["plain"]["seq"])
    cratio = (statistics.median(results["project"]["conc"]) / statistics.median(results["plain"]["conc"])
              if results["project"]["conc"] and results["plain"]["conc"] else float("nan"))
    print(f"ratio project/plain p50: sequential {ratio:.3f} (goal < 1.10), concurrent {cratio:.3f}")
    for name in ("plain", "project"):
        for f in results[name]["failures"]:
            print(f"{name} failure: {f}")
    return 0 if not results["project"]["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
