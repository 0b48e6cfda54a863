"""The applications web service (hub-managed, HubOAuth): apply, review, provision, history.

Run by the hub as `python -m cirn.hub.applications.service --port N`; every page needs a hub
login, and what a person may do comes from their hub scopes (cirn.hub.applications.hub) and the
application itself (cirn.hub.applications.workflow).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import re
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from sqlalchemy import or_, select
from tornado import httpserver, web

from cirn.datasets.catalog import Catalog
from cirn.enclave import Enclave
from cirn.errors import CirnError, Conflict, NotFound, Refused
from cirn.models import AuditEvent
from cirn.policies.application_rules import IRB, ApplicationPolicy, load_application_policy

from . import hub as scopes
from . import provisioning, workflow
from .banners import banner, done_query
from .documents import check_document, safe_filename, store_bytes, stored_path
from .models import Application
from .states import STATE_OWNER, ApplicationKind, ApplicationState, Committee, Outcome, Role, decision_action

HERE = Path(__file__).parent
log = logging.getLogger("cirn.applications")
STATUS = [(NotFound, 404), (Refused, 403), (Conflict, 409)]
CSP = ("default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
STATE_LABEL = {
    ApplicationState.draft: "Draft", ApplicationState.in_review: "In committee review",
    ApplicationState.changes_requested: "Changes requested", ApplicationState.approved: "Approved",
    ApplicationState.provisioned: "Provisioned", ApplicationState.rejected: "Rejected",
    ApplicationState.withdrawn: "Withdrawn",
}


def actor_from(user: dict) -> workflow.Actor:
    """The hub user model (with the token's scopes) as an Actor with roles."""
    have = set(user.get("scopes") or [])
    roles = {role for scope, role in ((scopes.DECIDE_DISTRIBUTION, Role.distribution_committee),
                                      (scopes.DECIDE_RESEARCH, Role.research_committee),
                                      (scopes.ADMIN, Role.enclave_admin)) if scope in have}
    return workflow.Actor(user["name"], frozenset(roles))


def can_apply(user: dict) -> bool:
    return scopes.APPLY in set(user.get("scopes") or [])


def catalog_choices(catalog: Catalog) -> list[dict]:
    """Every published dataset version with its variables, for the form's picker."""
    out = []
    for dv in catalog.all_versions():
        m = dv.manifest
        out.append({"ref": dv.ref, "dataset": dv.dataset_id, "version": dv.version, "kind": m.get("kind", ""),
                    "description": m.get("description", ""), "variables": m.get("dictionary") or []})
    return out


def parse_date(value: str, label: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Conflict(f"{label} {value!r} is not a date; use YYYY-MM-DD") from None


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    def initialize(self, enclave: Enclave, hub_auth: HubOAuth, policy: ApplicationPolicy):
        self.enclave, self.hub_auth, self.policy = enclave, hub_auth, policy

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    @property
    def base(self) -> str:
        return self.hub_auth.base_url

    @property
    def user(self) -> dict:
        return self.current_user

    @property
    def actor(self) -> workflow.Actor:
        return actor_from(self.current_user)

    def catalog(self) -> Catalog:
        return Catalog(self.enclave.state)

    def render_page(self, template: str, **kw):
        hub_prefix = self.hub_auth.hub_prefix
        self.render(template, base=self.base, hub_prefix=hub_prefix, actor=self.actor, policy=self.policy,
                    can_apply=can_apply(self.user), label=STATE_LABEL, Role=Role, **kw)

    def get_template_namespace(self):
        ns = super().get_template_namespace()
        ns["banner"] = banner
        return ns

    def go(self, path: str, done: str = "") -> None:
        """Redirect to `path`, with the fixed banner of key `done` (banners.py) when given."""
        self.redirect(f"{self.base}{path}" + (done_query(done) if done else ""))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = str(exc) if isinstance(exc, CirnError) else getattr(exc, "log_message", None) or self._reason
        try:
            self.render("error.html", status=status_code, message=message, base=self.base,
                        hub_prefix=self.hub_auth.hub_prefix, actor=None, label=STATE_LABEL)
        except Exception:  # pragma: no cover - never fail to report the failure
            self.finish(f"{status_code}: {message}")

    def log_exception(self, typ, value, tb):
        if isinstance(value, CirnError):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e):
        if isinstance(e, CirnError):
            code = next((c for cls, c in STATUS if isinstance(e, cls)), 400)
            self.send_error(code, exc_info=(type(e), e, None))
            return
        super()._handle_request_exception(e)

    def load(self, session, app_id: str) -> Application:
        app = workflow.get_application(session, int(app_id))
        workflow.check_can_view(session, app, self.actor)
        return app


class IndexHandler(BaseHandler):
    @web.authenticated
    def get(self):
        actor = self.actor
        with self.enclave.db.session() as s:
            apps = workflow.list_applications(s)
            mine = [a for a in apps if workflow.is_party(s, a, actor)]
            review = []
            for a in apps:
                for c in Committee:
                    if workflow.can_take(s, a, actor, decision_action(c, Outcome.approve)):
                        review.append(a)
                        break
            to_provision = [a for a in apps if a.state is ApplicationState.approved
                            and actor.has(Role.enclave_admin)]
            everything = apps if (actor.has(Role.enclave_admin) or actor.has(Role.distribution_committee)
                                  or actor.has(Role.research_committee)) else []
            self.render_page("index.html", mine=mine, review=review, to_provision=to_provision, everything=everything,
                             owner=STATE_OWNER)


def form_fields(handler: BaseHandler, catalog: Catalog) -> dict:
    """The application form's fields, checked against the catalog's dictionary."""
    arg = handler.get_body_argument
    datasets = []
    known = {c["ref"]: c for c in catalog_choices(catalog)}
    for ref in handler.get_body_arguments("dataset"):
        choice = known.get(ref)
        if choice is None:
            raise Conflict(f"dataset {ref!r} is not in the catalog")
        chosen = handler.get_body_arguments(f"var:{ref}")
        if not choice["variables"] or "*" in chosen:
            columns = None
        elif chosen:
            columns = chosen
        else:
            raise Conflict(f"choose the variables you need from {ref} (or tick 'all variables')")
        datasets.append({"dataset": choice["dataset"], "version": choice["version"], "columns": columns})
    return {
        "title": arg("title", ""), "purpose": arg("purpose", ""), "research_plan": arg("research_plan", ""),
        "infrastructure": arg("infrastructure", ""), "data_use_plan": arg("data_use_plan", ""),
        "requested_start": parse_date(arg("requested_start", ""), "start date"),
        "requested_end": parse_date(arg("requested_end", ""), "end date"),
        "members": re.split(r"[\s,;]+", arg("members", "")), "datasets": datasets,
    }


class NewHandler(BaseHandler):
    @web.authenticated
    def get(self):
        if not can_apply(self.user):
            raise Refused("only researchers may apply for data; ask your institution's identity administrator")
        self.render_page("form.html", app=None, choices=catalog_choices(self.catalog()), chosen={})

    @web.authenticated
    def post(self):
        if not can_apply(self.user):
            raise Refused("only researchers may apply for data")
        fields = form_fields(self, self.catalog())
        with self.enclave.db.session() as s:
            app = workflow.create_application(s, self.actor, self.get_body_argument("project_slug", "").strip(),
                                              fields["title"])
            workflow.update_application(s, app, self.actor, **fields)
            app_id = app.id
        self.go(f"{app_id}", "drafted")


class AmendHandler(BaseHandler):
    @web.authenticated
    def post(self, slug):
        with self.enclave.db.session() as s:
            app = workflow.start_amendment(s, self.actor, slug)
            app_id = app.id
        self.go(f"{app_id}/edit", "amending")


def chosen_of(app: Application) -> dict:
    return {f"{d['dataset']}@{d['version']}": d.get("columns") or ["*"] for d in app.datasets}


class EditHandler(BaseHandler):
    @web.authenticated
    def get(self, app_id):
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            workflow.check_can_edit(app, self.actor)
            self.render_page("form.html", app=app, choices=catalog_choices(self.catalog()), chosen=chosen_of(app))

    @web.authenticated
    def post(self, app_id):
        fields = form_fields(self, self.catalog())
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            workflow.update_application(s, app, self.actor, **fields)
        self.go(app_id, "saved")


class ApplicationHandler(BaseHandler):
    @web.authenticated
    def get(self, app_id):
        actor = self.actor
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            editable = workflow.can_edit(app, actor)
            missing = (workflow.missing_for_submission(s, app, self.policy, self.catalog(), dt.date.today())
                       if editable else [])
            decide_for = [c for c in Committee if workflow.can_take(s, app, actor, decision_action(c, Outcome.approve))]
            is_member_of_project = app.state is ApplicationState.provisioned and actor.name in \
                workflow.current_members(s, app.project_slug)
            self.render_page(
                "application.html", app=app, editable=editable, missing=missing, decide_for=decide_for,
                can_withdraw=workflow.can_take(s, app, actor, "withdraw"),
                can_provision=workflow.can_take(s, app, actor, "provision"),
                can_amend=is_member_of_project, decisions=sorted(app.decisions, key=lambda d: d.id),
                current=app.current_decisions(), owner=STATE_OWNER[app.state], irb=IRB,
                expiry=(workflow.project_expiry(app.requested_end, app.irb_expires)
                        if app.requested_end else None))


class DocumentsHandler(BaseHandler):
    @web.authenticated
    def post(self, app_id):
        kind = self.get_body_argument("kind", "")
        files = self.request.files.get("file") or []
        if not files:
            raise Conflict("choose a file to upload")
        upload = files[0]
        filename = safe_filename(upload["filename"])
        check_document(self.policy, kind, filename, upload["body"])
        irb_expires = parse_date(self.get_body_argument("irb_expires", ""), "IRB expiry date")
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            workflow.check_can_edit(app, self.actor)
            stored = store_bytes(self.enclave.state, upload["body"])
            workflow.add_document(s, app, self.actor, kind, filename, stored,
                                  irb_number=self.get_body_argument("irb_number", ""), irb_expires=irb_expires)
        self.go(app_id, "uploaded")


class DocumentHandler(BaseHandler):
    @web.authenticated
    def get(self, app_id, doc_id):
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            doc = next((d for d in app.documents if d.id == int(doc_id)), None)
            if doc is None:
                raise NotFound(f"application {app_id} has no document {doc_id}")
            sha, name = doc.sha256, doc.filename
        data = stored_path(self.enclave.state, sha).read_bytes()
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(data)


class PledgeHandler(BaseHandler):
    @web.authenticated
    def post(self, app_id):
        if self.get_body_argument("accept", "") != "yes":
            raise Conflict("tick 'I have read and accept the security pledge' to sign it")
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            workflow.sign_pledge(s, app, self.actor, self.policy, self.get_body_argument("name", ""),
                                 self.get_body_argument("pledge_sha256", ""))
        self.go(app_id, "pledged")


class ActionHandler(BaseHandler):
    @web.authenticated
    async def post(self, app_id, action):
        actor = self.actor
        app_id_int = int(app_id)
        if action == "provision":
            await asyncio.to_thread(provisioning.provision, self.enclave, app_id_int, actor)
            return self.go(app_id, "provisioned")
        done = ""
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            if action == "submit":
                workflow.submit(s, app, actor, self.policy, self.catalog(), dt.date.today())
                done = "submitted"
            elif action == "withdraw":
                workflow.withdraw(s, app, actor)
                done = "withdrawn"
            elif action == "decide":
                try:
                    committee = Committee(self.get_body_argument("committee", ""))
                    outcome = Outcome(self.get_body_argument("outcome", ""))
                except ValueError:
                    raise Conflict("choose a committee and one of: approve, request changes, reject") from None
                workflow.decide(s, app, actor, committee, outcome, self.get_body_argument("comment", ""))
                done = f"decided-{committee.value}"
            else:
                raise NotFound(f"unknown action {action!r}")
            auto = app.state is ApplicationState.approved and self.policy.auto_provision
        if auto:
            await asyncio.to_thread(provisioning.provision, self.enclave, app_id_int, workflow.SYSTEM)
            done += "-provisioned"
        self.go(app_id, done)


class HistoryHandler(BaseHandler):
    @web.authenticated
    def get(self, app_id):
        if not self.actor.has(Role.enclave_admin):
            raise Refused("an application's history is for enclave admins")
        with self.enclave.db.session() as s:
            app = self.load(s, app_id)
            subjects = [app.subject] + ([app.project_slug] if app.state is ApplicationState.provisioned
                                        or app.kind is ApplicationKind.amendment else [])
            events = list(s.execute(select(AuditEvent).where(or_(*[AuditEvent.subject == x for x in subjects]))
                                    .order_by(AuditEvent.seq)).scalars())
            rows = [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
                     "details": json.loads(e.details or "{}")} for e in events]
            self.render_page("history.html", app=app, events=rows)


class OAuthCallback(HubOAuthCallbackHandler):
    def initialize(self, hub_auth):
        self.hub_auth = hub_auth


def cookie_secret(enclave: Enclave) -> bytes:
    """Kept in the state folder, so a restart does not log everyone out."""
    return bytes.fromhex(enclave.state.secret("applications_cookie_secret"))


def make_app(enclave: Enclave, hub_auth: HubOAuth, policy: ApplicationPolicy) -> web.Application:
    p = hub_auth.base_url  # /services/applications/
    kw = {"enclave": enclave, "hub_auth": hub_auth, "policy": policy}
    handlers = [
        (p + "oauth_callback", OAuthCallback, {"hub_auth": hub_auth}),
        (p, IndexHandler, kw),
        (p + "new", NewHandler, kw),
        (p + r"amend/([a-z][a-z0-9-]+)", AmendHandler, kw),
        (p + r"(\d+)", ApplicationHandler, kw),
        (p + r"(\d+)/edit", EditHandler, kw),
        (p + r"(\d+)/documents", DocumentsHandler, kw),
        (p + r"(\d+)/documents/(\d+)", DocumentHandler, kw),
        (p + r"(\d+)/pledge", PledgeHandler, kw),
        (p + r"(\d+)/history", HistoryHandler, kw),
        (p + r"(\d+)/(submit|withdraw|decide|provision)", ActionHandler, kw),
    ]
    return web.Application(handlers, template_path=str(HERE / "templates"), cookie_secret=cookie_secret(enclave),
                           login_url=hub_auth.login_url,
                           xsrf_cookies=False)  # HubOAuth checks XSRF on cookie-authenticated writes


async def serve(ip: str, port: int) -> None:
    enclave = Enclave.from_env()
    await asyncio.to_thread(enclave.init)
    policy = load_application_policy(environ=enclave.environ)
    hub_auth = HubOAuth(cache_max_age=60)
    app = make_app(enclave, hub_auth, policy)
    server = httpserver.HTTPServer(app, xheaders=True, max_body_size=2 * policy.max_upload_bytes + 65536)
    server.listen(port, ip)
    log.info("applications service on %s:%s%s", ip, port, hub_auth.base_url)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cirn.hub.applications.service", description=__doc__)
    parser.add_argument("--ip", default="127.0.0.1", help="Address to listen on. Default 127.0.0.1.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CIRN_APPLICATIONS_PORT", "8083")),
                        help="Port (default $CIRN_APPLICATIONS_PORT or 8083).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CIRN_APPLICATIONS_LOG_LEVEL", "INFO"),
                        format="[%(levelname)1.1s %(asctime)s applications] %(message)s")
    asyncio.run(serve(args.ip, args.port))


if __name__ == "__main__":
    main()
