"""The deployed target, shared by the SQLite run (test_deploy.py) and the PostgreSQL variant
(test_deploy_postgresql.py), which re-applies the playbook to the same target."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from .target import Target, run, staging_archives, target_image

DEPLOY_CHECK_SLUG = "deploy-check"


@pytest.fixture(scope="package")
def deployed(images):
    image = target_image()
    archives = staging_archives()
    target = Target.start(image)
    wheelhouse = ["-e", f"cirn_wheelhouse_archive={archives['cirn_wheelhouse_archive']}"]
    times = {}
    try:
        t0 = time.monotonic()
        first = target.playbook(*wheelhouse)
        times["first"] = time.monotonic() - t0
        t0 = time.monotonic()
        second = target.playbook(*wheelhouse)
        times["second"] = time.monotonic() - t0
        t0 = time.monotonic()
        checked = target.playbook(*wheelhouse, "--check", "--diff")
        times["check"] = time.monotonic() - t0
        print(f"ansible runs (s): {json.dumps({k: round(v) for k, v in times.items()})}")
        yield {"target": target, "first": first, "second": second, "check": checked,
               "archive": archives["cirn_wheelhouse_archive"], "archives": archives}
    finally:
        subprocess.run(["docker", "exec", target.name, "systemctl", "stop", "cirn-hub", "cirn-proxy"],
                       capture_output=True)
        for cid in run(["docker", "ps", "-aq", "--filter", f"label=org.cirn.project={DEPLOY_CHECK_SLUG}"],
                       check=False).stdout.split():
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        target.remove()
        subprocess.run(["docker", "network", "rm", f"cirn-proj-{DEPLOY_CHECK_SLUG}"], capture_output=True)
