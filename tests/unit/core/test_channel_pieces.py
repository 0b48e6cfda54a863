"""The pieces of the closed browser and API channel that need no hub: policy caps, the roles
researchers get, and which tokens a hub start revokes."""

from types import SimpleNamespace

import pytest

from cirn.hub.spawner import contents_caps_env
from cirn.hub.tokens import RESEARCHER_SCOPES, is_server_token, may_make_tokens, user_role_without_tokens
from cirn.policies import PolicyError, load_policy

BASE = ("resources: {default_profile: s, profiles: {s: {mem_limit: 1G, cpu_limit: 1, pids_limit: 64}}}\n"
        "images: {default: a, allowed: [a]}\n")


def test_shipped_policy_caps_the_contents_api_and_reaches_the_container():
    policy = load_policy()
    assert (policy.contents.base64_max_bytes, policy.contents.text_max_bytes) == (256 * 1024, 1024 * 1024)
    assert contents_caps_env(policy) == {"CIRN_DATA_ROOT": "/data", "CIRN_CONTENTS_BASE64_MAX_BYTES": "262144",
                                         "CIRN_CONTENTS_TEXT_MAX_BYTES": "1048576"}


@pytest.mark.parametrize("section,needle", [
    ("contents: {base64_max_bytes: -1}\n", "base64_max_bytes"),
    ("contents: {text_max_bytes: lots}\n", "text_max_bytes"),
    ("contents: {max_bytes: 5}\n", "max_bytes"),
])
def test_bad_contents_caps_are_named(tmp_path, section, needle):
    path = tmp_path / "p.yaml"
    path.write_text(BASE + section)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert needle in str(err.value)


def test_user_role_keeps_service_access_and_loses_tokens():
    roles = [{"name": "user", "scopes": ["self", "access:services!service=egress"]},
             {"name": "server", "scopes": ["users:activity!user"]}]
    out = {r["name"]: r for r in user_role_without_tokens(roles)}
    assert out["user"]["scopes"] == [*RESEARCHER_SCOPES, "access:services!service=egress"]
    assert not may_make_tokens(out["user"]["scopes"]) and out["server"] == roles[1]
    assert user_role_without_tokens([])[0]["scopes"] == RESEARCHER_SCOPES
    assert may_make_tokens({"tokens!user=ada"}) and may_make_tokens({"tokens"})


def test_only_real_server_tokens_survive():
    role = ["users:activity!user", "access:servers!server", "access:services!service=egress"]
    def token(note, scopes):
        return SimpleNamespace(note=note, scopes=scopes)
    assert is_server_token(token("Server at /user/a/p/", ["users:activity!user", "access:servers!server=a/p",
                                                           "access:services!service=egress"]), role)
    assert not is_server_token(token("Requested via api", ["users:activity!user"]), role)
    assert not is_server_token(token("Server at /user/a/p/", ["inherit"]), role)
    assert not is_server_token(token("Server at /user/a/p/", ["access:servers!user"]), role)
    assert not is_server_token(token("Server at /user/a/p/", []), role)


def _browser_session_module():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[3] / "images" / "notebook" / "cirn_browser_session.py"
    spec = importlib.util.spec_from_file_location("cirn_browser_session", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("peer,inside", [
    (("127.0.0.1", 5000), True), (("::1", 5000, 0, 0), True), (("::ffff:127.0.0.1", 5000, 0, 0), True),
    (("172.30.0.1", 5000), False), (("10.0.0.5", 5000), False), (("::ffff:172.30.0.1", 1, 0, 0), False),
    (None, False), ("/run/socket", False),
])
def test_only_a_loopback_socket_peer_counts_as_inside(peer, inside):
    m = _browser_session_module()
    request = SimpleNamespace(connection=SimpleNamespace(context=SimpleNamespace(address=peer)),
                              remote_ip="127.0.0.1")  # what a forged X-Forwarded-For would set
    assert m.from_inside(request) is inside


@pytest.mark.parametrize("headers,args,carries", [
    ({"Authorization": "token abc"}, {}, True), ({"Authorization": "Bearer abc"}, {}, True),
    ({"Authorization": "  TOKEN abc"}, {}, True), ({"Authorization": "Basic abc"}, {}, False),
    ({}, {"token": "abc"}, True), ({}, {}, False), ({}, {"token": ""}, False),
])
def test_a_token_is_seen_in_the_header_or_the_arguments(headers, args, carries):
    m = _browser_session_module()
    handler = SimpleNamespace(request=SimpleNamespace(headers=headers, query_arguments={}),
                              get_argument=lambda name, default="": args.get(name, default))
    assert m.carries_token(handler) is carries
