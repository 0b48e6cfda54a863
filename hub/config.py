"""Hub configuration as small functions, one per area, each applying enclave settings to traitlets.

`jupyterhub_config.py` calls `configure(c, settings)`; tests call the same functions with their
own settings, so the demo, the tests and production share one configuration path.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from cirn.enclave import Enclave
from cirn.projects import projects_of, spawn_decision

HERE = Path(__file__).parent


@dataclass(frozen=True)
class HubSettings:
    """What differs between the demo, a test and production."""

    enclave: Enclave
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_api_port: int = 8081
    egress_api_port: int = 8082
    meter_api_port: int = 8084
    proxy_api_port: int = 8001
    proxy_command: list[str] | None = None
    authenticator: str = "demo"  # "demo" (local accounts, loopback only); OIDC comes with its own settings
    reconcile_interval: float | None = None
    extra_services: list[dict] = field(default_factory=list)


def configure_runtime(c, s: HubSettings) -> None:
    """Hub state under $CIRN_HOME/hub; servers and proxy outlive a hub restart.

    c.JupyterHub.db_url            <- sqlite:///$CIRN_HOME/hub/jupyterhub.sqlite
    c.JupyterHub.cleanup_servers   <- False (a hub restart must not stop researchers' work)
    c.JupyterHub.cleanup_proxy     <- False
    """
    hub_dir = s.enclave.state.hub
    hub_dir.mkdir(parents=True, exist_ok=True)
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.template_paths = [str(HERE / "templates")]
    c.JupyterHub.log_level = os.environ.get("CIRN_HUB_LOG_LEVEL", "INFO")


def configure_network(c, s: HubSettings) -> None:
    """Public proxy on ip:port; hub API on loopback and on each project network's gateway (added
    by cirn.hub.listeners as networks appear), never on the LAN.

    c.JupyterHub.bind_url        <- http://{ip}:{port}
    c.JupyterHub.hub_bind_url    <- http://127.0.0.1:{hub_api_port} (+ one socket per project gateway)
    c.JupyterHub.hub_connect_url <- http://127.0.0.1:{hub_api_port} (services; spawners override per project)
    """
    from .listeners import listen_on_gateways_when_hub_starts

    c.JupyterHub.bind_url = f"http://{s.ip}:{s.port}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_api_port}"
    c.JupyterHub.hub_connect_url = f"http://127.0.0.1:{s.hub_api_port}"
    listen_on_gateways_when_hub_starts(s.hub_api_port, networks_file=s.enclave.state.project_networks_file)
    hub_dir = s.enclave.state.hub
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.ConfigurableHTTPProxy.should_start = True
    c.ConfigurableHTTPProxy.auth_token = s.enclave.state.secret("proxy_auth_token")
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
    if s.proxy_command:
        c.ConfigurableHTTPProxy.command = s.proxy_command


def configure_spawner(c, s: HubSettings) -> None:
    """Named servers only, one per project; the ProjectSpawner decides and confines.

    c.JupyterHub.spawner_class      <- cirn.hub.spawner.ProjectSpawner
    c.JupyterHub.allow_named_servers <- True; the server name is the project slug
    """
    from .spawner import ProjectSpawner

    c.JupyterHub.spawner_class = ProjectSpawner
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = 0
    c.JupyterHub.redirect_to_server = False
    c.JupyterHub.implicit_spawn_seconds = 0
    c.ProjectSpawner.enclave = s.enclave
    c.ProjectSpawner.hub_api_port = s.hub_api_port
    c.ProjectSpawner.egress_api_port = s.egress_api_port
    c.ProjectSpawner.meter_api_port = s.meter_api_port
    # Generous: twenty JupyterLab servers starting at once on a 2-core host take minutes, and a
    # timeout there loses a researcher's start for nothing.
    c.ProjectSpawner.start_timeout = 180
    c.ProjectSpawner.http_timeout = 180
    c.ProjectSpawner.default_url = "/lab/tree/project"
    c.ProjectSpawner.notebook_dir = "/home/jovyan"


def configure_auth(c, s: HubSettings) -> None:
    """Login: see cirn.hub.login (demo accounts on loopback; OpenID Connect in production); tokens
    expire and a refused account's go: see cirn.hub.token_sweep."""
    from .login import configure_login
    from .token_sweep import configure_token_lifetime

    configure_login(c, s)
    configure_token_lifetime(c, s)


def project_rows(enclave: Enclave, user) -> list[dict]:
    """What the home page shows: the user's projects, whether each can start, and why not."""
    today = dt.date.today()
    spawners = getattr(user, "spawners", {}) or {}
    rows = []
    with enclave.db.session() as session:
        for p in projects_of(session, user.name):
            decision = spawn_decision(session, user.name, p.slug, today)
            spawner = spawners.get(p.slug)
            rows.append({
                "slug": p.slug, "title": p.title, "status": p.status.value, "expires": p.expires.isoformat(),
                "datasets": [f"{g.dataset_id}@{g.version}" for g in p.grants],
                "usable": decision.allowed, "reason": decision.reason,
                "running": bool(spawner and spawner.active),
                "url": f"{user.url}{p.slug}/" if hasattr(user, "url") else "",
            })
    return rows


def configure_pages(c, s: HubSettings) -> None:
    """The home page lists the user's projects (hub/templates/home.html)."""
    c.JupyterHub.template_vars = {"cirn_projects": lambda user: project_rows(s.enclave, user) if user else []}


def configure_services(c, s: HubSettings) -> None:
    """Hub-managed services and their roles: see cirn.hub.services (one entry per service)."""
    from .services import managed_services

    services, roles, custom_scopes = managed_services(s)
    c.JupyterHub.services = [*services, *s.extra_services]
    c.JupyterHub.load_roles = roles
    if custom_scopes:
        c.JupyterHub.custom_scopes = custom_scopes


def configure_api_tokens(c, s: HubSettings) -> None:
    """Only enclave admins make API tokens: see cirn.hub.tokens."""
    from .tokens import configure_tokens

    configure_tokens(c, s)


def configure(c, s: HubSettings) -> None:
    configure_runtime(c, s)
    configure_network(c, s)
    configure_spawner(c, s)
    configure_auth(c, s)
    configure_pages(c, s)
    configure_services(c, s)
    configure_api_tokens(c, s)  # after the services, whose roles it keeps


def settings_from_env(environ=None) -> HubSettings:
    """Settings for `jupyterhub -f hub/jupyterhub_config.py`, from the environment `cirn up` sets."""
    env = dict(os.environ if environ is None else environ)
    proxy = env.get("CIRN_PROXY_COMMAND")
    interval = env.get("CIRN_RECONCILE_INTERVAL")
    return HubSettings(
        enclave=Enclave.from_env(env),
        ip=env.get("CIRN_IP", "127.0.0.1"),
        port=int(env.get("CIRN_PORT", "8000")),
        hub_api_port=int(env.get("CIRN_HUB_API_PORT", "8081")),
        egress_api_port=int(env.get("CIRN_EGRESS_API_PORT", "8082")),
        meter_api_port=int(env.get("CIRN_METER_API_PORT", "8084")),
        proxy_api_port=int(env.get("CIRN_PROXY_API_PORT", "8001")),
        proxy_command=[proxy] if proxy else None,
        authenticator=env.get("CIRN_AUTHENTICATOR", "demo"),
        reconcile_interval=float(interval) if interval else None,
    )
