"""How the hub runs the applications service: its service entry, roles and custom scopes.

- the service `applications` listens on loopback and is proxied at /services/applications/;
- the committees' groups get `custom:applications:decide-distribution` / `-research`, the
  enclave admins `custom:applications:admin`, researchers `custom:applications:apply`; the
  service's OAuth tokens carry whichever of these the user holds;
- every enclave group may reach the service; what each person sees there is decided by it.
"""

from __future__ import annotations

import os
import socket
import sys

from cirn.hub import groups
from cirn.hub.services import service_environment

NAME = "applications"
APPLY = "custom:applications:apply"
DECIDE_DISTRIBUTION = "custom:applications:decide-distribution"
DECIDE_RESEARCH = "custom:applications:decide-research"
ADMIN = "custom:applications:admin"
ACCESS = f"access:services!service={NAME}"
SCOPES = {
    APPLY: "Apply for data access and amend one's projects",
    DECIDE_DISTRIBUTION: "Decide on applications for the distribution committee",
    DECIDE_RESEARCH: "Decide on applications for the research review committee",
    ADMIN: "Provision projects from approved applications and read applications' history",
}


def _port(s) -> int:
    configured = s.enclave.environ.get("CIRN_APPLICATIONS_PORT") or os.environ.get("CIRN_APPLICATIONS_PORT")
    if configured:
        return int(configured)
    with socket.socket() as sock:  # loopback only; a free port at each hub start is enough
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def applications_service(s) -> tuple[dict, list[dict], dict]:
    port = _port(s)
    service = {
        "name": NAME,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", "cirn.hub.applications.service", "--port", str(port)],
        "environment": service_environment(s),
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": sorted(SCOPES),
        "display": True,
        "info": {"description": "Apply for data; committee review; provisioning"},
    }
    roles = [
        {"name": "applications-access", "description": "Reach the data-access applications service",
         "scopes": [ACCESS], "groups": list(groups.ALL)},
        {"name": "applicant", "description": "Apply for data", "scopes": [APPLY], "groups": [groups.RESEARCHERS]},
        {"name": "distribution-committee", "description": "Distribution review of applications",
         "scopes": [DECIDE_DISTRIBUTION], "groups": [groups.DISTRIBUTION_COMMITTEE]},
        {"name": "research-committee", "description": "Research review of applications",
         "scopes": [DECIDE_RESEARCH], "groups": [groups.RESEARCH_COMMITTEE]},
        {"name": "applications-admin", "description": "Provision approved applications; read their history",
         "scopes": [ADMIN], "groups": [groups.ENCLAVE_ADMINS]},
    ]
    return service, roles, {k: {"description": v} for k, v in SCOPES.items()}
