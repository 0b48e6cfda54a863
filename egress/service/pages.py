"""The web pages: my requests, a file picker over the project folder, the request page, the
reviewer's queue and per-file views. Forms post back here with the hub's XSRF token."""

from __future__ import annotations

from tornado import web

from cirn.egress.review import permissions as perm
from cirn.egress.review.previews import IMAGE_TYPES, part_of
from cirn.egress.review.snapshot import list_workspace

from .api import Package
from .banners import done_query
from .handlers import BaseHandler
from .render import render
from .views import request_dict


class Index(BaseHandler):
    async def get(self):
        rows = await self.run(self.desk.list_for, self.person)
        projects = sorted(self.person.projects) if not self.person.container_project else []
        self.render("index.html", requests=rows, projects=projects)


class NewRequest(BaseHandler):
    async def get(self):
        project = self.get_argument("project", "")
        if not perm.user_can_submit(self.person, project):
            raise web.HTTPError(403, f"only members of project {project!r} can ask for its files to be released")
        files = await self.run(list_workspace, self.desk.enclave.state.project_workspace(project))
        self.render("new.html", project=project, files=files)

    async def post(self):
        project = self.get_argument("project", "")
        paths = self.get_arguments("path")
        files = [{"path": p, "justification": self.get_argument(f"justification:{p}", "")} for p in paths]
        rid = await self.run(self.desk.submit, self.person, project, files, self.get_argument("reason", ""))
        self.checks.schedule(rid)
        self.redirect(f"{self.base}requests/{rid}" + done_query("submitted"))


class RequestPage(BaseHandler):
    async def get(self, rid):
        req = await self.run(self.desk.get, self.person, self.int_arg(rid, "request"))
        reviewed = any(s.reviewer == self.person.name and s.round == req.round for s in req.submissions)
        self.render("request.html", r=request_dict(req, self.person), reviewed=reviewed,
                    required=self.desk.required_approvals(req))


class RequestForm(BaseHandler):
    """POST requests/<id>/<action> from the request page's forms."""

    async def post(self, rid, action):
        rid, p, d, arg = self.int_arg(rid, "request"), self.person, self.desk, self.get_argument
        if action == "withdraw":
            await self.run(d.withdraw, p, rid)
            done = "withdrawn"
        elif action == "decide":
            await self.run(d.decide, p, rid, self.int_arg(arg("file_id", ""), "file"), arg("decision", ""),
                           arg("comment", ""), arg("visibility", "requester"), arg("override_reason", ""))
            done = "decided"
        elif action == "review":
            await self.run(d.submit_review, p, rid)
            done = "reviewed"
        elif action == "reject":
            await self.run(d.reject, p, rid, arg("comment", ""))
            done = "rejected"
        elif action == "revoke":
            await self.run(d.revoke, p, rid, arg("reason", ""))
            done = "revoked"
        elif action == "release":
            await self.run(d.release, rid, p)
            done = "released"
        elif action == "comment":
            await self.run(d.comment, p, rid, arg("body", ""), arg("visibility", "requester"))
            done = "commented"
        elif action == "resubmit":
            req = await self.run(d.get, p, rid)
            update, remove = [], []
            for f in req.files:
                choice = arg(f"file:{f.path}", "keep")
                justification = arg(f"justification:{f.path}", f.justification)
                if choice == "update" or (choice == "keep" and justification != f.justification):
                    update.append({"path": f.path, "justification": justification})
                elif choice == "remove":
                    remove.append(f.path)
            for line in arg("add", "").splitlines():
                if line.strip():
                    update.append({"path": line.strip(), "justification": ""})
            reason = arg("reason", None)  # the request's text is checked again: a flagged reason can be rewritten
            await self.run(d.resubmit, p, rid, update, remove, reason.strip() if reason is not None else None)
            self.checks.schedule(rid)
            done = "resubmitted"
        else:
            raise web.HTTPError(404, f"there is no action {action!r}")
        self.redirect(f"{self.base}requests/{rid}" + done_query(done))


class FilePage(BaseHandler):
    async def get(self, rid, fid):
        rid, fid = self.int_arg(rid, "request"), self.int_arg(fid, "file")
        req = await self.run(self.desk.get, self.person, rid)
        # File content is shown to reviewers only: for members it would be a way out that skips review.
        if not perm.user_can_review(self.person, req):
            raise web.HTTPError(403, "file content is shown to egress reviewers only; members see the findings")
        f, data = await self.run(self.desk.blob, self.person, rid, fid)
        d = request_dict(req, self.person)
        fd = next(x for x in d["files"] if x["id"] == fid)
        body = await self.run(render, f.path, f.kind, data, fd["findings"], f"{self.base}requests/{rid}/files/{fid}/raw",
                              self.desk.enclave.policy.egress)
        self.render("file.html", r=d, f=fd, body=body)


class RawImage(BaseHandler):
    async def get(self, rid, fid):
        rid, fid = self.int_arg(rid, "request"), self.int_arg(fid, "file")
        req = await self.run(self.desk.get, self.person, rid)
        if not perm.user_can_review(self.person, req):
            raise web.HTTPError(403, "file content is shown to egress reviewers only")
        f, data = await self.run(self.desk.blob, self.person, rid, fid)
        part = part_of(data, f.path)  # by content, as the file page decides: a name says nothing
        if part.view != "image":
            raise web.HTTPError(404, f"{f.path} is not an image; open its page to see it")
        mime = IMAGE_TYPES[part.fmt]
        self.set_header("Content-Type", mime)
        self.set_header("Content-Disposition", "inline")
        self.finish(data)


class QueuePage(BaseHandler):
    async def get(self):
        rows = await self.run(self.desk.queue, self.person)
        self.render("queue.html", requests=rows)


class PackagePage(Package):
    api = False


def routes(prefix: str) -> list:
    return [
        (prefix, Index),
        (prefix + "new", NewRequest),
        (prefix + "queue", QueuePage),
        (prefix + r"requests/([^/]+)", RequestPage),
        (prefix + r"requests/([^/]+)/package", PackagePage),
        (prefix + r"requests/([^/]+)/files/([^/]+)", FilePage),
        (prefix + r"requests/([^/]+)/files/([^/]+)/raw", RawImage),
        (prefix + r"requests/([^/]+)/(withdraw|decide|review|reject|revoke|release|comment|resubmit)", RequestForm),
    ]
