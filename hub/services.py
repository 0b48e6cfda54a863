"""The hub-managed services of the enclave, their roles and custom scopes.

Each service is one entry here: a dict for c.JupyterHub.services, the roles it (or its users)
need, and any custom scopes it defines. `managed_services` is what cirn.hub.config applies.
"""

from __future__ import annotations

import sys


def service_environment(s) -> dict:
    """What every enclave service needs to open the same state folder, database and policy."""
    env = {"CIRN_HOME": str(s.enclave.state.root)}
    # DOCKER_*: the meter asks the engine for the containers' network counters (hub/meter).
    # CIRN_EGRESS_USER: a service opening the state folder as root keeps the folders shared with
    # the egress account (cirn.egress_access) instead of closing them to 0700.
    for key in ("CIRN_DB_URL", "CIRN_POLICY", "CIRN_EGRESS_USER", "DOCKER_HOST", "DOCKER_TLS_VERIFY",
                "DOCKER_CERT_PATH"):
        if s.enclave.environ.get(key):
            env[key] = s.enclave.environ[key]
    if s.enclave.policy_path:
        env["CIRN_POLICY"] = str(s.enclave.policy_path)
    return env


def reconciler(s) -> tuple[dict, list[dict]]:
    """Stops servers the project store no longer allows; may list servers and stop them, nothing more."""
    env = service_environment(s)
    if s.reconcile_interval is not None:
        env["CIRN_RECONCILE_INTERVAL"] = str(s.reconcile_interval)
    service = {"name": "cirn-reconciler", "command": [sys.executable, "-m", "cirn.hub.reconciler"],
               "environment": env, "display": False}
    role = {"name": "cirn-reconciler", "scopes": ["list:users", "read:users", "read:servers", "delete:servers"],
            "services": ["cirn-reconciler"]}
    return service, [role]


def service_makers() -> list:
    """Each maker takes the HubSettings and returns (service dict, roles, custom scopes).

    The egress review service (cirn.egress.service.hub.egress_service) and the data-access
    application service (cirn.hub.applications.hub.applications_service) plug in here.
    """
    from cirn.egress.service.hub import egress_service
    from cirn.hub.applications.hub import applications_service
    from cirn.hub.meter.hub import meter_service

    return [reconciler, egress_service, applications_service, meter_service]


def merge_roles(roles: list[dict]) -> list[dict]:
    """One role per name: several services add scopes to the same built-in role (`server`, `user`)."""
    merged: dict[str, dict] = {}
    for role in roles:
        have = merged.setdefault(role["name"], {"name": role["name"]})
        for key, value in role.items():
            if isinstance(value, list):
                have[key] = [*have.get(key, []), *(v for v in value if v not in have.get(key, []))]
            elif key not in have:
                have[key] = value
    return list(merged.values())


def managed_services(s) -> tuple[list[dict], list[dict], dict]:
    services, roles, custom_scopes = [], [], {}
    for make in service_makers():
        made = make(s)
        service, service_roles = made[0], made[1]
        services.append(service)
        roles.extend(service_roles)
        if len(made) > 2:
            custom_scopes.update(made[2])
    return services, merge_roles(roles), custom_scopes
