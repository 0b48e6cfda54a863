"""The tornado application of the egress review service, its checks worker, and `main()`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import httpserver, web

from cirn.enclave import Enclave
from cirn.egress.review.desk import ReleaseDesk

from . import api, pages
from cirn.hub.network_file import PublishedNetworks

from .origin import ProjectNetworks

HERE = Path(__file__).parent
log = logging.getLogger("cirn.egress.service")


class ChecksWorker:
    """Runs the checks on submitted requests off the event loop, as many at a time as the policy
    has checks workers (egress.sandbox.workers), so one slow file does not hold up the queue.

    Requests are queued by id; at start-up and every `sweep` seconds every request still
    `submitted` is queued again, so a restart in the middle of a scan loses nothing.
    """

    def __init__(self, desk: ReleaseDesk, sweep: float = 30.0):
        self.desk = desk
        self.sweep = sweep
        self.pool = ThreadPoolExecutor(max_workers=desk.enclave.policy.egress.sandbox.workers, thread_name_prefix="egress-checks")
        self.queued: set[int] = set()

    def schedule(self, request_id: int) -> None:
        if request_id in self.queued:
            return
        self.queued.add(request_id)
        self.pool.submit(self._run, request_id)

    def _run(self, request_id: int) -> None:
        try:
            self.desk.run_checks(request_id)
        except Exception:
            log.exception("checks of request %s failed; they are retried at the next sweep", request_id)
        finally:
            self.queued.discard(request_id)

    def start(self) -> None:
        self.pool.submit(self.desk.checker.warm_up)
        self.sweep_now()

    def sweep_now(self) -> None:
        for rid in self.desk.pending_checks():
            self.schedule(rid)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep)
            try:
                await asyncio.to_thread(self.sweep_now)
            except Exception:  # pragma: no cover - keep sweeping
                log.exception("sweep failed")


class OAuthCallback(HubOAuthCallbackHandler):
    def initialize(self, hub_auth):
        self.hub_auth = hub_auth


def cookie_secret(enclave: Enclave) -> bytes:
    """Kept in the state folder, so a restart does not log everyone out."""
    return bytes.fromhex(enclave.state.secret("egress_cookie_secret"))


def make_app(desk: ReleaseDesk, hub_auth: HubOAuth, checks: ChecksWorker,
             networks: ProjectNetworks | None = None) -> web.Application:
    prefix = hub_auth.base_url  # /services/egress/
    if networks is None:
        networks = ProjectNetworks(PublishedNetworks(desk.enclave.state.project_networks_file).subnets)
    kwargs = {"desk": desk, "hub_auth": hub_auth, "checks": checks, "networks": networks}
    handlers = [(prefix + "oauth_callback", OAuthCallback, {"hub_auth": hub_auth})]
    handlers += [(pattern, cls, kwargs) for pattern, cls in api.routes(prefix) + pages.routes(prefix)]
    return web.Application(
        handlers,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix=prefix + "static/",
        cookie_secret=cookie_secret(desk.enclave),
        login_url=hub_auth.login_url,
        xsrf_cookies=False,  # HubOAuth checks XSRF on every cookie-authenticated write (handlers.py)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cirn.egress.service", description=__doc__)
    parser.add_argument("--ip", default="127.0.0.1",
                        help="Address to listen on besides each project network's gateway (added as networks "
                             "appear, see cirn.hub.listeners). Default 127.0.0.1.")
    parser.add_argument("--no-gateways", dest="gateways", action="store_false",
                        help="Do not listen on project network gateways (a service no container must reach).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CIRN_EGRESS_API_PORT", "8082")),
                        help="Port (default $CIRN_EGRESS_API_PORT or 8082).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CIRN_EGRESS_LOG_LEVEL", "INFO"),
                        format="[%(levelname)1.1s %(asctime)s egress] %(message)s")
    asyncio.run(serve(args.ip, args.port, args.gateways))


async def serve(ip: str, port: int, gateways: bool = True) -> None:
    """Listen inside the running loop (tornado binds a server to the loop current at listen time)."""
    enclave = Enclave.from_env()
    await asyncio.to_thread(enclave.init)
    desk = ReleaseDesk(enclave)
    hub_auth = HubOAuth(cache_max_age=60)
    checks = ChecksWorker(desk)
    published = PublishedNetworks(enclave.state.project_networks_file)
    app = make_app(desk, hub_auth, checks, ProjectNetworks(published.subnets))
    # No xheaders: the direct listener is open to project networks, where X-Real-IP would be
    # whatever a caller sends; origin.py believes the proxy's header from loopback only.
    server = httpserver.HTTPServer(app, xheaders=False, max_body_size=16 * 1024 * 1024)
    server.listen(port, ip)
    if gateways:  # on the gateways the hub publishes: this service may not ask Docker (network_file)
        from cirn.hub.listeners import GatewayListeners
        GatewayListeners(server, port, networks=published.networks, addresses_on=published.addresses_on).start()
    log.info("egress review service on %s:%s%s", ip, port, hub_auth.base_url)
    checks.start()
    await checks.sweep_forever()
