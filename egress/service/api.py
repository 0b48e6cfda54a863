"""The JSON API under /services/egress/api/ (described by api/openapi.json)."""

from __future__ import annotations

from tornado import web

from cirn.egress.review import permissions as perm
from cirn.egress.review.snapshot import list_workspace

from .handlers import ApiHandler
from .openapi import openapi
from .views import request_dict


class OpenApi(ApiHandler):
    async def prepare(self):  # the description is public, like the hub's own REST API docs
        pass

    def get(self):
        self.send(openapi(self.base))


class Me(ApiHandler):
    def get(self):
        p = self.person
        self.send({"name": p.name, "reviewer": p.reviewer and not p.container_project,
                   "projects": sorted(p.projects), "container_project": p.container_project})


class WorkspaceFiles(ApiHandler):
    async def get(self, slug):
        if not perm.user_can_submit(self.person, slug):
            raise web.HTTPError(403, f"only members of project {slug!r} can list its files")
        files = await self.run(list_workspace, self.desk.enclave.state.project_workspace(slug))
        self.send({"project": slug, "files": files})


class Requests(ApiHandler):
    async def get(self):
        project = self.get_argument("project", None)
        rows = await self.run(self.desk.list_for, self.person, project)
        self.send({"requests": [request_dict(r, self.person, brief=True) for r in rows]})

    async def post(self):
        body = self.json_body()
        rid = await self.run(self.desk.submit, self.person, body.get("project"), body.get("files"),
                             body.get("reason", ""))
        self.checks.schedule(rid)
        req = await self.run(self.desk.get, self.person, rid)
        self.set_header("Location", f"{self.base}api/requests/{rid}")
        self.send(request_dict(req, self.person), 201)


class Queue(ApiHandler):
    async def get(self):
        rows = await self.run(self.desk.queue, self.person)
        self.send({"requests": [request_dict(r, self.person, brief=True) for r in rows]})


class OneRequest(ApiHandler):
    async def get(self, rid):
        req = await self.run(self.desk.get, self.person, self.int_arg(rid, "request"))
        self.send(request_dict(req, self.person))


class RequestAction(ApiHandler):
    """POST api/requests/<id>/<action> with a JSON body."""

    async def post(self, rid, action):
        rid, body, p, d = self.int_arg(rid, "request"), self.json_body(), self.person, self.desk
        if action == "withdraw":
            await self.run(d.withdraw, p, rid)
        elif action == "resubmit":
            await self.run(d.resubmit, p, rid, body.get("files"), body.get("remove"), body.get("reason"))
            self.checks.schedule(rid)
        elif action == "review":
            await self.run(d.submit_review, p, rid)
        elif action == "reject":
            await self.run(d.reject, p, rid, body.get("comment"))
        elif action == "revoke":
            await self.run(d.revoke, p, rid, body.get("reason"))
        elif action == "release":
            await self.run(d.release, rid, p)
        elif action == "comments":
            file_id = body.get("file_id")
            if file_id is not None and not isinstance(file_id, int):
                raise web.HTTPError(400, "file_id must be a number")
            await self.run(d.comment, p, rid, body.get("body"), body.get("visibility", "requester"), file_id)
        else:
            raise web.HTTPError(404, f"there is no action {action!r}")
        req = await self.run(d.get, p, rid)
        self.send(request_dict(req, p))


class FileDecision(ApiHandler):
    async def post(self, rid, fid):
        rid, fid, body = self.int_arg(rid, "request"), self.int_arg(fid, "file"), self.json_body()
        for key in ("decision", "comment", "visibility", "override_reason"):
            if body.get(key) is not None and not isinstance(body.get(key), str):
                raise web.HTTPError(400, f"{key} must be text")
        await self.run(self.desk.decide, self.person, rid, fid, body.get("decision"), body.get("comment") or "",
                       body.get("visibility") or "requester", body.get("override_reason") or "")
        req = await self.run(self.desk.get, self.person, rid)
        self.send(request_dict(req, self.person))


class Package(ApiHandler):
    async def get(self, rid):
        path, release = await self.run(self.desk.package_for_download, self.person, self.int_arg(rid, "request"))
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{release.package}"')
        self.set_header("X-Package-SHA256", release.sha256)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()


def routes(prefix: str) -> list:
    p = prefix + "api/"
    return [
        (p + r"openapi\.json", OpenApi),
        (p + r"me", Me),
        (p + r"projects/([a-z0-9-]+)/files", WorkspaceFiles),
        (p + r"requests", Requests),
        (p + r"queue", Queue),
        (p + r"requests/([^/]+)", OneRequest),
        (p + r"requests/([^/]+)/package", Package),
        (p + r"requests/([^/]+)/files/([^/]+)/decision", FileDecision),
        (p + r"requests/([^/]+)/(withdraw|resubmit|review|reject|revoke|release|comments)", RequestAction),
    ]
