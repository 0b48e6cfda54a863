"""How the hub runs the egress review service: its service entry, roles and custom scope.

- the service `egress` listens on every interface at the egress API port (project containers
  reach it on their network's gateway) and is proxied at /services/egress/;
- role `egress-reviewer` gives the group `egress-reviewers` the custom scope
  `custom:egress:review`, which the service's OAuth tokens carry for those users;
- every user, and every project server's token, may reach the service (`access:services!service=egress`);
  what each may do there is decided by the service from the project store.
"""

from __future__ import annotations

import sys

from cirn.hub.groups import EGRESS_REVIEWERS
from cirn.hub.services import service_environment

NAME = "egress"
REVIEW_SCOPE = "custom:egress:review"
ACCESS = f"access:services!service={NAME}"


def egress_service(s) -> tuple[dict, list[dict], dict]:
    # No DOCKER_*: the service learns the project networks from the file the hub publishes
    # (cirn.hub.network_file), so it needs no engine, whose socket is root's power.
    environment = {k: v for k, v in service_environment(s).items() if not k.startswith("DOCKER_")}
    service = {
        "name": NAME,
        "url": f"http://127.0.0.1:{s.egress_api_port}",
        "command": [sys.executable, "-m", "cirn.egress.service", "--ip", "127.0.0.1", "--port", str(s.egress_api_port)],
        "environment": {**environment, "CIRN_EGRESS_API_PORT": str(s.egress_api_port)},
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [REVIEW_SCOPE],
        "display": True,
        "info": {"description": "Ask for outputs to be released; review release requests"},
    }
    if s.enclave.state.egress_user:
        # Production: the hub (root) starts the service as its own account, which reaches only
        # what cirn.egress_access opens to its group; its checks workers confine themselves
        # further (Landlock, egress/checks/confine.py), having no account to switch to.
        service["user"] = s.enclave.state.egress_user
        service["cwd"] = "/"
    roles = [
        {"name": "egress-reviewer", "description": "Review release requests of projects one is not a member of",
         "scopes": [REVIEW_SCOPE], "groups": [EGRESS_REVIEWERS]},
        # Reaching the service is not a privilege: it decides per request from the project store.
        {"name": "user", "scopes": ["self", ACCESS]},
        {"name": "server", "scopes": ["users:activity!user", "access:servers!server", ACCESS]},
    ]
    custom_scopes = {REVIEW_SCOPE: {"description": "Review, approve, reject and revoke egress release requests"}}
    return service, roles, custom_scopes
