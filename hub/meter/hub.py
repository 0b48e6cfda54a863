"""How the hub runs the volume meter service: its service entry, roles and custom scope.

- the service `cirn-meter` listens on loopback and on each project network's gateway at the meter
  API port (project containers report counts there; cirn.hub.listeners), never on the LAN, and is proxied at /services/cirn-meter/,
  where enclave admins see alerts and usage and reinstate suspended members;
- every project server's token may reach it (`access:services!service=cirn-meter`), and a report
  made with one counts for that token's own user and project only;
- the group `enclave-admins` gets `custom:meter:admin`, which the service's OAuth tokens carry;
- the service itself may stop servers, so a member past the limit is stopped at once (the
  reconciler would stop a suspended member within a pass anyway).
"""

from __future__ import annotations

import sys

from cirn.hub.groups import ENCLAVE_ADMINS
from cirn.hub.services import service_environment

NAME = "cirn-meter"
ADMIN_SCOPE = "custom:meter:admin"
ACCESS = f"access:services!service={NAME}"


def meter_service(s) -> tuple[dict, list[dict], dict]:
    service = {
        "name": NAME,
        "url": f"http://127.0.0.1:{s.meter_api_port}",
        "command": [sys.executable, "-m", "cirn.hub.meter.service", "--ip", "127.0.0.1", "--port", str(s.meter_api_port)],
        "environment": service_environment(s),
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [ADMIN_SCOPE],
        "display": False,
        "info": {"description": "Volume alerts: what project servers sent to browsers"},
    }
    roles = [
        {"name": NAME, "scopes": ["list:users", "read:users", "read:servers", "delete:servers"], "services": [NAME]},
        {"name": "meter-admin", "description": "See volume alerts and reinstate members the meter suspended",
         "scopes": [ADMIN_SCOPE, ACCESS], "groups": [ENCLAVE_ADMINS]},
        {"name": "server", "scopes": ["users:activity!user", "access:servers!server", ACCESS]},
    ]
    return service, roles, {ADMIN_SCOPE: {"description": "See volume alerts and reinstate suspended members"}}
