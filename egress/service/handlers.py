"""The base handler: hub authentication, the caller as a Person, and errors as clear 4xx answers."""

from __future__ import annotations

import asyncio
import json
import logging

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import web

from cirn.errors import CirnError, Conflict, NotFound, Refused
from cirn.egress.review.desk import InvalidSubmission
from cirn.egress.review.snapshot import InvalidPath
from cirn.egress.review.states import InvalidTransition
from cirn.egress.review.store import Tampered, TooLarge

from .auth import container_project, is_reviewer
from .banners import banner
from .origin import adopt_proxy_headers

log = logging.getLogger("cirn.egress.service")

MAX_API_BODY = 256 * 1024  # requests name files in the workspace; they never carry file content

STATUS = [(TooLarge, 413), (InvalidTransition, 409), (Conflict, 409), (NotFound, 404), (Refused, 403),
          (InvalidSubmission, 400), (InvalidPath, 400), (Tampered, 500)]

CSP = ("default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'self'; base-uri 'none'")


def status_of(exc: CirnError) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 400


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every handler: who is calling (self.person), and CirnError -> a 4xx with the error's message."""

    api = False

    def initialize(self, desk, hub_auth, checks=None, networks=None):
        self.desk = desk
        self.hub_auth = hub_auth
        self.checks = checks
        self.networks = networks
        self.person = None

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    @property
    def base(self) -> str:
        return self.hub_auth.base_url  # /services/egress/

    async def prepare(self):
        adopt_proxy_headers(self.request)
        length = int(self.request.headers.get("Content-Length") or 0)
        if length > MAX_API_BODY or len(self.request.body or b"") > MAX_API_BODY:
            raise web.HTTPError(413, f"the request body is over {MAX_API_BODY} bytes; requests name files in "
                                     "the project folder, they do not carry file content")
        model = await self.hub_auth.get_user(self, sync=False)
        if model:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                raise web.HTTPError(403, f"{model.get('name')} may not use the egress service "
                                         "(access:services!service=egress is needed)")
        self._hub_auth_user_cache = model
        if not model:
            if self.request.method in ("GET", "HEAD") and not self.api:
                self.redirect(self.get_login_url())
                return
            if self.request.method not in ("GET", "HEAD") and self.get_cookie(self.hub_auth.cookie_name):
                raise web.HTTPError(403, "the form's XSRF token is missing or does not match: reload the page and "
                                         "try again (a form sent from another site is refused)")
            raise web.HTTPError(401, "log in through the hub, or send a hub token "
                                     "(Authorization: token ...) with the request")
        if model.get("kind") == "service":
            raise web.HTTPError(403, "services cannot act on release requests; a person must")
        inside = await self.networks.request_is_inside(self.request)
        self.person = await self.run(self.desk.person, model["name"], is_reviewer(model), container_project(model),
                                     inside)

    async def run(self, fn, *args, **kwargs):
        """Run desk work off the event loop; CirnError becomes a 4xx with its message."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except CirnError as exc:
            raise web.HTTPError(status_of(exc), str(exc)) from None

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return body

    def int_arg(self, value: str, what: str) -> int:
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise web.HTTPError(404, f"{what} {value!r} is not a number") from None
        if n < 1 or n > 2**31:
            raise web.HTTPError(404, f"there is no {what} {value}")
        return n

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if status_code >= 500:
            message = "the egress service failed; the error is in its log"
        if self.api or "application/json" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "error": message}))
        else:
            self.render("error.html", status=status_code, message=message)

    def get_template_namespace(self):
        ns = super().get_template_namespace()
        ns.update(base=self.base, person=self.person, hub_prefix=self.hub_auth.hub_prefix, banner=banner)
        return ns


class ApiHandler(BaseHandler):
    api = True

    def send(self, obj, status: int = 200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj, ensure_ascii=False, default=str))
