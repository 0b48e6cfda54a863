"""The web pages: my requests, a file picker over the project folder, the request page, the
reviewer's queue and per-file views. Forms post back here with the hub's XSRF token."""

from __future__ import annotations

from urllib.parse import quote

from tornado import web

from cirn.egress.review import permissions as perm
from cirn.egress.review.snapshot import list_workspace

from .api import Package
from .handlers import BaseHandler
from .render import image_type, render
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
        self.redirect(f"{self.base}requests/{rid}?msg=" + quote("Submitted: the files were copied and are being checked."))


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
        msg = "Done."
        if action == "withdraw":
            await self.run(d.withdraw, p, rid)
            msg = "The request was withdrawn."
        elif action == "decide":
            await self.run(d.decide, p, rid, self.int_arg(arg("file_id", ""), "file"), arg("decision", ""),
                           arg("comment", ""), arg("visibility", "requester"), arg("override_reason", ""))
            msg = "Decision recorded; submit your review when every file is decided."
        elif action == "review":
            state = await self.run(d.submit_review, p, rid)
            msg = f"Review submitted; the request is now {state.value.replace('_', ' ')}."
        elif action == "reject":
            await self.run(d.reject, p, rid, arg("comment", ""))
            msg = "The request was rejected."
        elif action == "revoke":
            await self.run(d.revoke, p, rid, arg("reason", ""))
            msg = "The release was revoked."
        elif action == "release":
            await self.run(d.release, rid, p)
            msg = "The package was built."
        elif action == "comment":
            await self.run(d.comment, p, rid, arg("body", ""), arg("visibility", "requester"))
            msg = "Comment added."
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
            await self.run(d.resubmit, p, rid, update, remove)
            self.checks.schedule(rid)
            msg = "Resubmitted: new snapshots were taken and are being checked."
        else:
            raise web.HTTPError(404, f"there is no action {action!r}")
        self.redirect(f"{self.base}requests/{rid}?msg=" + quote(msg))


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
        body = await self.run(render, f.path, f.kind, data, fd["findings"], f"{self.base}requests/{rid}/files/{fid}/raw")
        self.render("file.html", r=d, f=fd, body=body)


class RawImage(BaseHandler):
    async def get(self, rid, fid):
        rid, fid = self.int_arg(rid, "request"), self.int_arg(fid, "file")
        req = await self.run(self.desk.get, self.person, rid)
        if not perm.user_can_review(self.person, req):
            raise web.HTTPError(403, "file content is shown to egress reviewers only")
        f, data = await self.run(self.desk.blob, self.person, rid, fid)
        mime = image_type(f.path)
        if not mime or mime == "image/svg+xml":
            raise web.HTTPError(404, f"{f.path} is not an image; open its page to see it")
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
