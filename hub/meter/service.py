"""The volume meter service (hub-managed): project servers report counts here; admins see alerts.

    POST /services/cirn-meter/api/report   a project server's report, with its own token
    GET  /services/cirn-meter/             alerts and today's usage (enclave admins, hub OAuth)
    POST /services/cirn-meter/reinstate    lift a suspension (enclave admins)

Why a service and not the reconciler: reports must arrive from inside the project network
(pushed by the server, which is the one that knows what it sent), be authenticated by the hub
(the server's own token names the user and the project), and be recorded at once; the
reconciler is a loop with no listener, and pulling from servers would need a token that opens
every researcher's server. The counter runs in the researcher's container, so the service also
compares each report with the container's network interface counter (read from the Docker
engine, out of the researcher's reach) and alerts admins when more left than was reported. The reconciler stays the backstop: a suspended member's server is
stopped within its pass even if this service's own stop fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import httpserver, web

from cirn import audit
from cirn.egress.service.auth import container_project
from cirn.enclave import Enclave
from cirn.errors import CirnError, Conflict, NotFound
from cirn.models import Member, MemberStatus, Project, utcnow

from . import accounting
from .hub import ADMIN_SCOPE

HERE = Path(__file__).parent
log = logging.getLogger("cirn.meter")
MAX_REPORT = 4096


class Meter:
    """What the handlers share: the enclave, and how to stop a server through the hub."""

    def __init__(self, enclave: Enclave, hub=None):
        self.enclave = enclave
        self.hub = hub
        self._docker = None

    def record(self, username: str, project: str, report: accounting.Report, now: dt.datetime) -> accounting.Outcome:
        with self.enclave.db.session() as session:
            outcome = accounting.record_report(session, username, project, report, now, self.enclave.policy.meter)
        for alert in outcome.alerts:
            log.warning("alert %s (%s): %s", alert.id, alert.level, alert.message)
        return outcome

    def network_tx(self, username: str, project: str) -> tuple[str, int] | None:
        """The project container's id and the bytes its network interfaces sent, from the Docker engine."""
        import docker
        if self._docker is None:
            self._docker = docker.from_env()
        found = self._docker.containers.list(filters={"label": [f"org.cirn.user={username}",
                                                                f"org.cirn.project={project}"]})
        if len(found) != 1:
            return None
        stats = found[0].stats(stream=False, one_shot=True)
        return found[0].id, sum(n.get("tx_bytes", 0) for n in (stats.get("networks") or {}).values())

    def check_network(self, username: str, project: str, instance: str, day: dt.date) -> None:
        try:
            seen = self.network_tx(username, project)
        except Exception:  # the engine is busy or the container just went: the next report checks again
            log.warning("cross-check of %s/%s skipped: the Docker engine did not answer", username, project)
            return
        if seen is None:
            return
        with self.enclave.db.session() as session:
            alert = accounting.cross_check(session, username, project, instance, seen[0], seen[1], day, utcnow())
        if alert is not None:
            log.warning("alert %s (mismatch): %s", alert.id, alert.message)

    def stop(self, username: str, project: str, reason: str) -> None:
        from cirn.hub.reconciler import RunningServer
        try:
            self.hub.stop(RunningServer(username, project))
        except Exception:  # the reconciler stops a suspended member's server at its next pass
            log.exception("stopping %s/%s failed; the reconciler will", username, project)
            return
        with self.enclave.db.session() as session:
            audit.record(session, accounting.ACTOR, "server.stopped", f"{username}/{project}", reason=reason)

    def page(self, today: dt.date) -> dict:
        with self.enclave.db.session() as session:
            suspended = session.query(Member, Project.slug).join(Project).filter(
                Member.status == MemberStatus.suspended).order_by(Project.slug, Member.username).all()
            return {"alerts": accounting.list_alerts(session)[:200], "usage": accounting.usage_on(session, today),
                    "suspended": [(slug, m.username, m.status_reason) for m, slug in suspended],
                    "policy": self.enclave.policy.meter, "today": today}

    def reinstate(self, actor: str, project: str, username: str) -> None:
        with self.enclave.db.session() as session:
            accounting.reinstate(session, actor, project, username)


class Report(web.RequestHandler):
    """A project server's report. The token is the server's own; the body cannot choose who it counts for."""

    def initialize(self, meter: Meter, hub_auth: HubOAuth):
        self.meter, self.hub_auth = meter, hub_auth

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.finish({"status": status_code, "error": message})

    async def post(self):
        if len(self.request.body) > MAX_REPORT:
            raise web.HTTPError(413, f"a report is at most {MAX_REPORT} bytes")
        header = self.request.headers.get("Authorization", "")
        token = header.split(None, 1)[1] if header.lower().startswith(("token ", "bearer ")) else ""
        model = await self.hub_auth.user_for_token(token, sync=False) if token else None
        if not model:
            raise web.HTTPError(401, "send the project server's own token (Authorization: token ...)")
        project = container_project(model)
        if model.get("kind") != "user" or project in (None, "*"):
            raise web.HTTPError(403, "reports come from a project server, with that server's own token")
        try:
            report = accounting.parse_report(json.loads(self.request.body or b"null"))
        except (ValueError, accounting.BadReport) as exc:
            raise web.HTTPError(400, f"bad report: {exc}")
        outcome = await asyncio.to_thread(self.meter.record, model["name"], project, report, utcnow())
        await asyncio.to_thread(self.meter.check_network, model["name"], project, report.instance, outcome.day)
        if outcome.suspended:
            await asyncio.to_thread(self.meter.stop, model["name"], project,
                                    f"daily volume limit passed ({accounting.mib(outcome.user_total)})")
        self.finish({"day": outcome.day.isoformat(), "added": outcome.added, "today": outcome.user_total,
                     "warning": self.meter.enclave.policy.meter.daily_warning_bytes,
                     "limit": self.meter.enclave.policy.meter.daily_limit_bytes})


class AdminPage(HubOAuthenticated, web.RequestHandler):
    """Enclave admins only (custom:meter:admin)."""

    def initialize(self, meter: Meter, hub_auth: HubOAuth):
        self.meter, self.hub_auth = meter, hub_auth

    def check_admin(self) -> dict:
        user = self.current_user
        if ADMIN_SCOPE not in set(user.get("scopes", [])):
            raise web.HTTPError(403, "volume alerts are for enclave admins")
        return user

    @web.authenticated
    async def get(self):
        self.check_admin()
        data = await asyncio.to_thread(self.meter.page, dt.datetime.now(dt.timezone.utc).date())
        self.render("alerts.html", base=self.hub_auth.base_url, hub_prefix=self.hub_auth.hub_prefix,
                    mib=accounting.mib, msg=self.get_argument("msg", ""), **data)

    @web.authenticated
    async def post(self):
        user = self.check_admin()
        project, username = self.get_body_argument("project", ""), self.get_body_argument("user", "")
        try:
            await asyncio.to_thread(self.meter.reinstate, f"admin:{user['name']}", project, username)
        except CirnError as exc:
            raise web.HTTPError(409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NotFound) else 400,
                                str(exc))
        self.redirect(f"{self.hub_auth.base_url}?msg={username}+reinstated+in+{project}")


class OAuthCallback(HubOAuthCallbackHandler):
    def initialize(self, hub_auth):
        self.hub_auth = hub_auth


def make_app(meter: Meter, hub_auth: HubOAuth) -> web.Application:
    p = hub_auth.base_url
    kw = {"meter": meter, "hub_auth": hub_auth}
    return web.Application([
        (p + "oauth_callback", OAuthCallback, {"hub_auth": hub_auth}),
        (p + "api/report", Report, kw),
        (p, AdminPage, kw),
        (p + "reinstate", AdminPage, kw),
    ], template_path=str(HERE / "templates"), login_url=hub_auth.login_url,
        cookie_secret=bytes.fromhex(meter.enclave.state.secret("meter_cookie_secret")),
        xsrf_cookies=False)  # HubOAuth checks XSRF on cookie-authenticated writes


async def serve(ip: str, port: int) -> None:
    from cirn.hub.reconciler import HubAPI
    enclave = Enclave.from_env()
    await asyncio.to_thread(enclave.init)
    hub_auth = HubOAuth(cache_max_age=60)
    meter = Meter(enclave, HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]))
    server = httpserver.HTTPServer(make_app(meter, hub_auth), xheaders=True, max_body_size=64 * 1024)
    server.listen(port, ip)
    # Containers report on their network's gateway; never on every interface (the LAN).
    from cirn.hub.listeners import GatewayListeners
    GatewayListeners(server, port).start()
    log.info("volume meter on %s:%s%s and the project gateways", ip, port, hub_auth.base_url)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cirn.hub.meter.service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ip", default="127.0.0.1",
                        help="Address to listen on besides each project network's gateway (added as networks "
                             "appear, see cirn.hub.listeners). Default 127.0.0.1.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CIRN_METER_API_PORT", "8084")),
                        help="Port (default $CIRN_METER_API_PORT or 8084).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CIRN_METER_LOG_LEVEL", "INFO"),
                        format="[%(levelname)1.1s %(asctime)s cirn-meter] %(message)s")
    asyncio.run(serve(args.ip, args.port))


if __name__ == "__main__":
    main()
