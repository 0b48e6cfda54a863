"""A real enclave in a temporary folder, two projects, and a desk whose checks are a stub
(the checks engine has its own tests; here only its verdicts matter)."""

from __future__ import annotations

import datetime as dt

import pytest

from cirn import projects
from cirn.enclave import Enclave
from cirn.egress.review.checking import PROJECT_IDENTIFIERS
from cirn.egress.review.desk import ReleaseDesk
from cirn.egress.review.permissions import Person


class StubChecker:
    """Verdict by file name: names containing 'block' or 'review' get such a finding."""

    def scan(self, project, path, data):
        for verdict in ("block", "review"):
            if verdict in path:
                finding = {"check": "small-count.threshold", "severity": verdict, "location": "row 1, column 'n'",
                           "message": "count 3 is below 10"}
                return "table", verdict, [{"path": path, "sha256": "", "kind": "table", "verdict": verdict,
                                           "findings": [finding]}]
        return "text", "pass", [{"path": path, "sha256": "", "kind": "text", "verdict": "pass", "findings": []}]

    def warm_up(self):
        pass


@pytest.fixture
def enclave(tmp_path):
    e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home")})
    e.init()
    with e.db.session() as s:
        for slug, members in (("alpha", ["alice", "amy"]), ("beta", ["bob", "rita"])):
            projects.create_project(s, "test", slug, slug.title(), dt.date.today() + dt.timedelta(days=30))
            for m in members:
                projects.add_member(s, "test", slug, m)
    for slug in ("alpha", "beta"):
        e.state.project_workspace(slug).mkdir(parents=True)
        # as provisioning leaves it (a project without the list has its files held: test_identifier_list)
        (e.state.project_dir(slug) / PROJECT_IDENTIFIERS).write_text("P-AAAAAAAAAAAAAAAA\n")
    return e


@pytest.fixture
def desk(enclave):
    return ReleaseDesk(enclave, checker=StubChecker())


@pytest.fixture
def ws(enclave):
    return enclave.state.project_workspace("alpha")


@pytest.fixture
def people(desk):
    return {
        "alice": desk.person("alice"),
        "amy": desk.person("amy"),
        "rev1": desk.person("rev1", reviewer=True),
        "rev2": desk.person("rev2", reviewer=True),
        "rita": desk.person("rita", reviewer=True),  # a reviewer who is a member of beta
        "bob": desk.person("bob"),
    }


def submit(desk, people, ws, files: dict[str, str], who="alice", reason="aggregate tables") -> int:
    for name, text in files.items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    rid = desk.submit(people[who], "alpha", [{"path": n} for n in files], reason)
    desk.run_checks(rid)
    return rid


Person = Person
