"""The reconciler: a hub-managed service that stops servers the project store no longer allows.

Every pass lists running servers through the hub's REST API and asks the project store, as the
spawner does at start, whether each (user, project) may still run: a project that expired, was
suspended or closed, or a member who was removed, loses the server within one pass.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from cirn import audit
from cirn.enclave import Enclave
from cirn.projects import spawn_decision

log = logging.getLogger("cirn.reconciler")
ACTOR = "service:cirn-reconciler"
PAGINATION_MEDIA_TYPE = "application/jupyterhub-pagination+json"
PAGE_LIMIT = 200  # the hub caps it at its api_page_max_limit and says so in _pagination


@dataclass(frozen=True)
class RunningServer:
    user: str
    server: str


class HubAPI:
    """The few hub REST calls the reconciler makes, with its service token."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def _call(self, method: str, path: str, headers: dict | None = None):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}", **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def running_servers(self) -> list[RunningServer]:
        """Every active user's servers, page by page.

        The hub answers at most `api_page_max_limit` users (200 by default) per request; asking
        for the pagination form gets `_pagination.next` to follow instead of a list cut short.
        """
        users, offset = [], 0
        while True:
            page = self._call("GET", f"/users?state=active&offset={offset}&limit={PAGE_LIMIT}",
                              {"Accept": PAGINATION_MEDIA_TYPE}) or {}
            if isinstance(page, list):  # a hub without pagination answers everything at once
                users.extend(page)
                break
            users.extend(page.get("items") or [])
            nxt = (page.get("_pagination") or {}).get("next")
            if not nxt or int(nxt["offset"]) <= offset:
                break
            offset = int(nxt["offset"])
        return [RunningServer(u["name"], name) for u in users for name in (u.get("servers") or {})]

    def stop(self, server: RunningServer) -> None:
        try:
            self._call("DELETE", f"/users/{server.user}/servers/{server.server}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # already gone is the outcome we wanted
                raise


DATA_CHANGED = ("the project's data changed (a grant was revoked or an extract rebuilt); "
                "start the server again to see the current data")


def servers_to_stop(enclave: Enclave, servers: list[RunningServer], today: dt.date,
                    started_with: dict[RunningServer, str] | None = None) -> list[tuple[RunningServer, str]]:
    """Pure decision: which running servers the project store no longer allows, and why.

    `started_with` maps servers to the data fingerprint their container was created with; a
    server whose fingerprint differs from the current one is stopped too.
    """
    from .identity import refused_accounts
    from .spawner import data_fingerprint

    out = []
    with enclave.db.session() as session:
        refused = refused_accounts(session)
        for srv in servers:
            if srv.user in refused:
                out.append((srv, "the identity provider no longer accepts this account"))
                continue
            decision = spawn_decision(session, srv.user, srv.server, today)
            if not decision.allowed:
                out.append((srv, decision.reason))
                continue
            if started_with and srv in started_with:
                now = data_fingerprint(enclave, srv.server, [g.dataset_id for g in decision.project.grants])
                if now != started_with[srv]:
                    out.append((srv, DATA_CHANGED))
    return out


def container_fingerprints() -> dict[RunningServer, str]:
    """The data fingerprint of every running project container, from the Docker engine."""
    import docker

    from .spawner import FINGERPRINT_LABEL

    client = docker.from_env()
    found = {}
    try:
        for c in client.containers.list(filters={"label": FINGERPRINT_LABEL}):
            labels = c.labels
            found[RunningServer(labels.get("org.cirn.user", ""), labels.get("org.cirn.project", ""))] = labels[FINGERPRINT_LABEL]
    finally:
        client.close()
    return found


def reconcile_once(enclave: Enclave, hub: HubAPI, today: dt.date | None = None,
                   fingerprints=container_fingerprints) -> list[RunningServer]:
    stopped = []
    running = hub.running_servers()
    for srv, reason in servers_to_stop(enclave, running, today or dt.date.today(), fingerprints() if running else None):
        log.warning("stopping %s/%s: %s", srv.user, srv.server, reason)
        hub.stop(srv)
        with enclave.db.session() as session:
            audit.record(session, ACTOR, "server.stopped", f"{srv.user}/{srv.server}", reason=reason)
        stopped.append(srv)
    return stopped


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s cirn.reconciler] %(message)s")
    enclave = Enclave.from_env()
    interval = float(os.environ.get("CIRN_RECONCILE_INTERVAL") or enclave.policy.hub.reconcile_interval)
    hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    log.info("reconciling every %.0f s", interval)
    while True:
        try:
            reconcile_once(enclave, hub)
        except Exception:  # one failed pass must not end the service; the next pass retries
            log.exception("reconcile pass failed")
        time.sleep(interval)


if __name__ == "__main__":
    main()
