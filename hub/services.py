"""The hub-managed services of the enclave, their roles and custom scopes.

Each service is one entry here: a dict for c.JupyterHub.services, the roles it (or its users)
need, and any custom scopes it defines. `managed_services` is what cirn.hub.config applies.
"""

from __future__ import annotations

import sys


def service_environment(s) -> dict:
    """What every enclave service needs to open the same state folder, database and policy."""
    env = {"CIRN_HOME": str(s.enclave.state.root)}
    for key in ("CIRN_DB_URL", "CIRN_POLICY"):
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


def managed_services(s) -> tuple[list[dict], list[dict], dict]:
    services, roles, custom_scopes = [], [], {}
    for make in (reconciler,):
        service, service_roles = make(s)
        services.append(service)
        roles.extend(service_roles)
    return services, roles, custom_scopes
