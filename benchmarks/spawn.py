"""Spawn benchmark: time from the REST API's start request to a ready server.

Runs, in one process and one run, the project spawner (policy checks, per-project internal
network, bind mounts, hardening) and a plain DockerSpawner (same image, an internal network too)
through a real hub each: 10 sequential spawns, then 20 concurrent ones, and prints p50/p95 and
the project spawner's ratio to the plain one. Goal: the project spawner adds < 10% to p50, and all
20 concurrent spawns succeed. With --meter-baseline a third hub runs the project spawner with the
volume meter extension left out, and the metered/unmetered p50 ratio is printed (goal < 1.05),
with the median of the per-round ratios: each round spawns on every hub back to back, so a round's
ratio sees one machine load and the median of them stands up to a busy machine better than the
ratio of two medians. --meter-only leaves the plain hub out, for that comparison alone.

    .venv/bin/python benchmarks/spawn.py [--sequential 10] [--concurrent 20] [--meter-baseline [--meter-only]]
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

from cirn.hub.harness import add_project, fresh_enclave, new_hub, remove_test_objects
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
# No project store behind this hub: its reconciler would stop every server it sees.
c.JupyterHub.services = [s for s in c.JupyterHub.services if s["name"] != "cirn-reconciler"]
c.JupyterHub.load_roles = [r for r in c.JupyterHub.load_roles if r["name"] != "cirn-reconciler"]
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


def spawn_and_stop(hub, user: str, server: str) -> float:
    took = timed_spawn(hub, user, server)
    hub.stop_server(user, server)
    wait_gone(hub, user, server)
    return took


def concurrent_batch(hub, users: list[str], server_for) -> tuple[list[float], list[str]]:
    with cf.ThreadPoolExecutor(len(users)) as pool:
        futures = {pool.submit(timed_spawn, hub, u, server_for(u)): u for u in users}
        times, failures = [], []
        for fut in cf.as_completed(futures):
            try:
                times.append(fut.result())
            except Exception as exc:  # counted and reported, not fatal
                failures.append(str(exc))
    for u in users:
        hub.stop_server(u, server_for(u))
    for u in users:
        wait_gone(hub, u, server_for(u))
    return times, failures


UNMETERED_CONFIG = """
# The same project spawner, the server started without the cirn_meter extension (the lockdown stays).
c.ProjectSpawner.args = ["--ServerApp.jpserver_extensions=cirn_lockdown=True"]
"""


def start_project_hub(home: Path, prefix: str, users: list[str], extra_config: str = "", name: str = "bench"):
    """Project spawner: one project with every bench user as a member and two granted extracts."""
    enclave = fresh_enclave(home)
    slug = f"{prefix}-{name}"
    add_project(enclave, slug, "Benchmark", users, actor="bench", expires=dt.date.today() + dt.timedelta(days=1),
                extracts={ds: {"table.csv": "a,b\n1,2\n"} for ds in ("cohort", "genotypes")})
    hub = new_hub(home, reconcile_interval=60, extra_config=extra_config)
    hub.start()
    for u in users:
        hub.create_user(u)
    return hub, slug


def start_plain_hub(home: Path, prefix: str, users: list[str], client):
    """Plain DockerSpawner: same image, its own internal network, named servers."""
    fresh_enclave(home)
    net = client.networks.create(f"cirn-bench-{prefix}", internal=True)
    hub = new_hub(home, reconcile_interval=60)
    hub.extra_config = PLAIN_CONFIG.format(net=net.name, image=NOTEBOOK_IMAGE, prefix=f"{prefix}-plain",
                                           api_port=hub.api_port)
    hub.start()
    for u in users:
        hub.create_user(u)
    return hub, net


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequential", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--meter-baseline", action="store_true",
                    help="Also run the project spawner without the volume meter and print the ratio.")
    ap.add_argument("--meter-only", action="store_true",
                    help="With --meter-baseline: leave the plain DockerSpawner hub out.")
    args = ap.parse_args()
    build_all(progress=lambda m: None)
    client = docker.from_env()
    prefix = "b" + uuid.uuid4().hex[:6]
    users = [f"bench{i:02d}" for i in range(max(args.concurrent, 1))]
    results = {}
    hubs = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            hubs["project"], slug = start_project_hub(Path(tmp) / "project", prefix, users)
            server_for = {"project": lambda u: slug}
            if not (args.meter_baseline and args.meter_only):
                hubs["plain"], net = start_plain_hub(Path(tmp) / "plain", prefix, users, client)
                server_for["plain"] = lambda u: "plain"
            if args.meter_baseline:
                hubs["unmetered"], slug_u = start_project_hub(Path(tmp) / "unmetered", prefix, users,
                                                              UNMETERED_CONFIG, "unmetered")
                server_for["unmetered"] = lambda u: slug_u
            results = {name: {"seq": [], "conc": [], "failures": []} for name in hubs}
            # Side by side: the spawners take turns, so all see the same machine load.
            for i in range(args.sequential):
                order = list(hubs) if i % 2 == 0 else list(reversed(hubs))
                for name in order:
                    results[name]["seq"].append(spawn_and_stop(hubs[name], users[0], server_for[name](users[0])))
            for name in [n for n in ("plain", "project", "unmetered") if n in hubs]:
                times, failures = concurrent_batch(hubs[name], users[:args.concurrent], server_for[name])
                results[name]["conc"], results[name]["failures"] = times, failures
        except Exception:
            for name, hub in hubs.items():
                print(f"--- {name} hub log ---\n{hub.log_tail(40)}", file=sys.stderr)
            raise
        finally:
            for hub in hubs.values():
                hub.stop()
            remove_test_objects(client, prefix)
            for c in client.containers.list(all=True, filters={"label": f"org.cirn.project={prefix}-plain"}):
                c.remove(force=True)
            for n in client.networks.list(names=[f"cirn-bench-{prefix}"]):
                n.remove()
    print(f"spawn benchmark: {args.sequential} sequential, {args.concurrent} concurrent, on {os.cpu_count()} cores")
    print(f"{'spawner':<10} {'seq p50':>8} {'seq p95':>8} {'conc p50':>9} {'conc p95':>9} {'ok':>6}")
    for name in [n for n in ("plain", "project", "unmetered") if n in results]:
        r = results[name]
        print(f"{name:<10} {statistics.median(r['seq']):8.2f} {pct(r['seq'], .95):8.2f} "
              f"{statistics.median(r['conc']) if r['conc'] else float('nan'):9.2f} "
              f"{pct(r['conc'], .95) if r['conc'] else float('nan'):9.2f} {len(r['conc'])}/{args.concurrent}")
    if "plain" in results:
        ratio = statistics.median(results["project"]["seq"]) / statistics.median(results["plain"]["seq"])
        cratio = (statistics.median(results["project"]["conc"]) / statistics.median(results["plain"]["conc"])
                  if results["project"]["conc"] and results["plain"]["conc"] else float("nan"))
        print(f"ratio project/plain p50: sequential {ratio:.3f} (goal < 1.10), concurrent {cratio:.3f}")
    if "unmetered" in results:
        u = results["unmetered"]
        mratio = statistics.median(results["project"]["seq"]) / statistics.median(u["seq"])
        mcratio = (statistics.median(results["project"]["conc"]) / statistics.median(u["conc"])
                   if results["project"]["conc"] and u["conc"] else float("nan"))
        paired = statistics.median(m / n for m, n in zip(results["project"]["seq"], u["seq"]))
        print(f"ratio metered/unmetered project spawner p50: sequential {mratio:.3f} (goal < 1.05), "
              f"concurrent {mcratio:.3f}; median of per-round ratios {paired:.3f}")
    for name in [n for n in ("plain", "project") if n in results]:
        for f in results[name]["failures"]:
            print(f"{name} failure: {f}")
    return 0 if not results["project"]["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
