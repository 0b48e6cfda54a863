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
