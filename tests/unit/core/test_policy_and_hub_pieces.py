import datetime as dt

import pytest

from cirn.hub.auth import LoopbackOnly, check_loopback
from cirn.hub.reconciler import RunningServer, servers_to_stop
from cirn.hub.spawner import hardened_host_config, project_mounts
from cirn.policies import PolicyError, load_policy
from cirn import projects


def test_shipped_policy_is_valid():
    policy = load_policy()
    assert policy.images.default in policy.images.allowed


@pytest.mark.parametrize("text,needle", [
    ("resources: {default_profile: x, profiles: {}}\nimages: {default: a, allowed: [a]}\n", "default_profile 'x'"),
    ("resources: {default_profile: s, profiles: {s: {mem_limit: lots, cpu_limit: 1, pids_limit: 64}}}\n"
     "images: {default: a, allowed: [a]}\n", "mem_limit"),
    ("resources: {default_profile: s, profiles: {s: {mem_limit: 1G, cpu_limit: 1, pids_limit: 64}}}\n"
     "images: {default: a, allowed: [b]}\n", "images.default 'a' must also be listed"),
    ("resources: {default_profile: s, profiles: {s: {mem_limit: 1G, cpu_limit: 1, pids_limit: 64}}}\n"
     "images: {default: a, allowed: [a]}\nsurprise: 1\n", "surprise"),
    ("- just a list\n", "mapping"),
    ("key: [unclosed\n", "not valid YAML"),
])
def test_bad_policy_names_the_problem(tmp_path, text, needle):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="p.yaml") as err:
        load_policy(path)
    assert needle in str(err.value)


def test_missing_policy_file_is_named(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_demo_login_allowed_on_loopback(ip):
    check_loopback(ip)


@pytest.mark.parametrize("ip", ["0.0.0.0", "10.1.2.3", "", "example"])
def test_demo_login_refused_elsewhere(ip):
    with pytest.raises(LoopbackOnly, match="loopback"):
        check_loopback(ip)


def test_mounts_are_read_only_binds_plus_workspace(enclave):
    mounts = project_mounts(enclave, "demo-one", ["notes", "cohort"])
    assert [m["target"] for m in mounts] == ["/data/cohort", "/data/notes", "/home/jovyan/project"]
    assert all(m["type"] == "bind" for m in mounts)
    assert [m["read_only"] for m in mounts] == [True, True, False]
    assert mounts[0]["source"].endswith("projects/demo-one/data/cohort")


def test_hardened_host_config_drops_everything():
    profile = load_policy().resources.profiles["small"]
    cfg = hardened_host_config(profile)
    assert cfg["cap_drop"] == ["ALL"] and cfg["security_opt"] == ["no-new-privileges:true"]
    assert cfg["pids_limit"] == profile.pids_limit and cfg["read_only"] is True and cfg["privileged"] is False


def test_reconciler_decides_from_the_project_store(enclave):
    with enclave.db.session() as s:
        projects.create_project(s, "t", "keep-me", "K", dt.date(2030, 1, 1))
        projects.add_member(s, "t", "keep-me", "alice")
        projects.create_project(s, "t", "stop-me", "S", dt.date(2030, 1, 1))
        projects.add_member(s, "t", "stop-me", "alice")
        projects.change_status(s, "t", "stop-me", "suspend")
    servers = [RunningServer("alice", "keep-me"), RunningServer("alice", "stop-me"), RunningServer("bob", "keep-me")]
    out = servers_to_stop(enclave, servers, dt.date(2026, 1, 1))
    assert [(s.user, s.server) for s, _ in out] == [("alice", "stop-me"), ("bob", "keep-me")]


def test_data_fingerprint_changes_when_an_extract_is_swapped_or_revoked(enclave):
    from cirn.hub.spawner import data_fingerprint
    data = enclave.state.project_data("demo-one")
    (data / "cohort").mkdir(parents=True)
    (data / "notes").mkdir()
    first = data_fingerprint(enclave, "demo-one", ["cohort", "notes"])
    assert first == data_fingerprint(enclave, "demo-one", ["notes", "cohort"])
    assert first != data_fingerprint(enclave, "demo-one", ["cohort"])
    (data / "cohort").rename(data / "old")
    (data / "cohort").mkdir()
    assert first != data_fingerprint(enclave, "demo-one", ["cohort", "notes"])


def test_deep_copy_of_the_enclave_is_the_same_handle(enclave):
    import copy
    enclave.db  # an engine is attached: copying it would fail
    assert copy.deepcopy({"e": enclave})["e"] is enclave
