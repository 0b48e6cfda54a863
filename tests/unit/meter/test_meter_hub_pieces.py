"""How the hub runs the meter: one `server` role carrying every service's access, the service entry."""

from cirn.hub.config import HubSettings
from cirn.hub.services import managed_services, merge_roles


def test_server_tokens_reach_both_the_egress_and_the_meter_service(enclave):
    services, roles, scopes = managed_services(HubSettings(enclave=enclave, meter_api_port=18084))
    server = [r for r in roles if r["name"] == "server"]
    assert len(server) == 1
    assert {"access:services!service=egress", "access:services!service=cirn-meter",
            "users:activity!user", "access:servers!server"} <= set(server[0]["scopes"])
    meter = next(s for s in services if s["name"] == "cirn-meter")
    assert "127.0.0.1" in meter["command"] and "0.0.0.0" not in meter["command"] and "18084" in meter["command"]
    assert "custom:meter:admin" in scopes
    admins = next(r for r in roles if r["name"] == "meter-admin")
    assert admins["groups"] == ["enclave-admins"]


def test_merge_roles_unions_lists_and_keeps_the_first_other_values():
    merged = merge_roles([{"name": "a", "scopes": ["x"], "description": "one"},
                          {"name": "b", "scopes": ["y"]},
                          {"name": "a", "scopes": ["x", "z"], "groups": ["g"], "description": "two"}])
    assert merged == [{"name": "a", "scopes": ["x", "z"], "description": "one", "groups": ["g"]},
                      {"name": "b", "scopes": ["y"]}]
