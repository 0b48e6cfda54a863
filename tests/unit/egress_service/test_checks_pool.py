"""The review service's checks keep moving: requests are checked on a pool as wide as the
policy's checks workers, in worker processes, so a request holding a decompression bomb is
blocked at the sandbox limits while another request's clean file is checked. (The pathological
Parquet is in tests/unit/egress/test_sandbox.py: checked in this process, as before the sandbox,
it would take gigabytes of the test host's memory.)"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import time
from pathlib import Path

import yaml

from cirn import projects
from cirn.enclave import Enclave
from cirn.egress.review.checking import PROJECT_IDENTIFIERS
from cirn.egress.review.desk import ReleaseDesk
from cirn.egress.review.models import ReleaseRequest
from cirn.egress.review.permissions import Person
from cirn.egress.service.app import ChecksWorker
from cirn.policies import load_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "egress"))
from bombs import gzip_text  # noqa: E402


def _enclave(tmp_path) -> Enclave:
    raw = yaml.safe_load(open(load_policy.__globals__["DEFAULT_POLICY"], encoding="utf-8"))
    raw["egress"]["sandbox"].update({"workers": 2, "cpu_seconds": 1, "wall_seconds": 5})
    policy = tmp_path / "enclave.yaml"
    policy.write_text(yaml.safe_dump(raw, allow_unicode=True))
    e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home"), "CIRN_POLICY": str(policy)})
    e.init()
    with e.db.session() as s:
        projects.create_project(s, "test", "alpha", "Alpha", dt.date.today() + dt.timedelta(days=30))
        projects.add_member(s, "test", "alpha", "alice")
    e.state.project_workspace("alpha").mkdir(parents=True)
    # as provisioning leaves it (a project without the list has its files held: test_identifier_list)
    (e.state.project_dir("alpha") / PROJECT_IDENTIFIERS).write_text("P-AAAAAAAAAAAAAAAA\n")
    return e


def _state(enclave, rid) -> tuple[str, list[dict]]:
    with enclave.db.session() as s:
        req = s.get(ReleaseRequest, rid)
        return req.state.value, [json.loads(f.findings_json) for f in req.files]


def test_a_bomb_does_not_hold_up_another_requests_clean_file(tmp_path):
    enclave = _enclave(tmp_path)
    desk = ReleaseDesk(enclave)
    ws = enclave.state.project_workspace("alpha")
    (ws / "notes.txt.gz").write_bytes(gzip_text(20))
    (ws / "counts.csv").write_text("region,n\nSeoul,120\nBusan,85\n")
    alice = Person("alice", False, frozenset({"alpha"}), None)
    checks = ChecksWorker(desk)
    try:
        desk.checker.warm_up()  # the workers are started and have loaded the engine
        bombs = desk.submit(alice, "alpha", [{"path": "notes.txt.gz"}], "a bomb")
        clean = desk.submit(alice, "alpha", [{"path": "counts.csv"}], "counts")
        t0 = time.monotonic()
        checks.schedule(bombs)
        time.sleep(0.3)
        checks.schedule(clean)
        finished: dict[int, float] = {}
        while len(finished) < 2 and time.monotonic() - t0 < 60:
            for rid in (bombs, clean):
                if rid not in finished and _state(enclave, rid)[0] != "submitted":
                    finished[rid] = time.monotonic() - t0
            time.sleep(0.1)
        assert set(finished) == {bombs, clean}, "the checks did not finish in a minute"
        assert finished[clean] < finished[bombs]  # the clean request did not queue behind the bombs
        state, reports = _state(enclave, clean)
        assert state == "checked" and reports[0][0]["verdict"] == "pass"
        state, reports = _state(enclave, bombs)
        assert state == "checked"
        assert reports[0][0]["verdict"] == "block"
        assert reports[0][0]["findings"][0]["check"] in ("size.sandbox-cpu", "size.sandbox-timeout")
        assert finished[bombs] < enclave.policy.egress.sandbox.wall_seconds + 10
    finally:
        checks.pool.shutdown(wait=True)
        desk.checker.close()
