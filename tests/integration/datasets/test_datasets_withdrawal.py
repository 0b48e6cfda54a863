"""`cirn datasets withdraw` when one project cannot be rebuilt: the others are, that one is suspended
and its running container stopped at once (real Docker engine), and the printed retry command works."""

from __future__ import annotations

import subprocess
import uuid

import docker
import pyarrow.parquet as pq
import pytest

from .test_datasets_cli import CIRN, cirn

BASE_IMAGE = "cirn/base:bookworm"


@pytest.fixture
def two_projects(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cirn(home, "init")
    cirn(home, "datasets", "synth", "--participants", "20", "--variants", "100", "--out", str(home / "synth"))
    cirn(home, "datasets", "ingest", "clinical", str(home / "synth" / "clinical.csv"), "--id", "cohort",
         "--version", "1.0")
    slugs = [f"wd{uuid.uuid4().hex[:6]}-{n}" for n in ("a", "b")]
    for slug in slugs:
        cirn(home, "project", "create", slug, "--title", slug, "--expires", "2030-01-01")
        cirn(home, "project", "grant", slug, "cohort", "--columns", "participant_id,age")
        cirn(home, "project", "provision", slug)
    return home, slugs


@pytest.fixture
def docker_client():
    client = docker.from_env()
    yield client
    client.close()


def participants(home, slug) -> set[str]:
    path = home / "projects" / slug / "data" / "cohort" / "table.parquet"
    return set(pq.read_table(path, columns=["participant_id"]).column("participant_id").to_pylist())


def test_withdraw_suspends_what_it_cannot_reach_and_the_retry_finishes_it(two_projects, docker_client):
    home, (a, b) = two_projects
    cirn(home, "project", "grant", b, "cohort", "--columns", "participant_id,shoe_size")  # b's rebuild now fails
    server = docker_client.containers.run(BASE_IMAGE, ["sleep", "infinity"], detach=True, network_mode="none", init=True,
                                          name=f"{b}-alice", labels={"org.cirn.project": b, "org.cirn.user": "alice"})
    try:
        pseudo = {s: cirn(home, "datasets", "pseudonym", s, "RD000004").stdout.strip() for s in (a, b)}
        proc = cirn(home, "datasets", "withdraw", "RD000004", ok=False)
        assert proc.returncode == 1
        assert "RD000004 withdrawn" in proc.stdout and f"re-provisioned 1 project(s): {a}" in proc.stdout
        assert f"{b}: suspended now, 1 server(s) stopped; failed:" in proc.stderr and "shoe_size" in proc.stderr
        retry = f"cirn project provision {b} && cirn project resume {b}"
        assert retry in proc.stderr
        assert pseudo[a] not in participants(home, a)
        listed = (home / "projects" / a / "egress-identifiers.txt").read_text().splitlines()
        assert pseudo[a] in listed  # workspace copies made before may still hold it
        assert pseudo[b] in participants(home, b)  # not rebuilt yet, but nobody can open it:
        server.reload()
        assert server.status == "exited"
        assert "suspended" in cirn(home, "project", "show", b).stdout
        # Fix the cause, then run the command exactly as printed.
        cirn(home, "project", "grant", b, "cohort", "--columns", "participant_id,age")
        subprocess.run(retry, shell=True, check=True, cwd=home, capture_output=True,
                       env={"PATH": f"{CIRN.parent}:/usr/bin:/bin", "CIRN_HOME": str(home)})
        assert pseudo[b] not in participants(home, b)
        assert "active" in cirn(home, "project", "show", b).stdout
        assert "intact" in cirn(home, "audit", "verify").stdout
    finally:
        server.remove(force=True)
