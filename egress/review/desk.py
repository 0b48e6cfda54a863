"""The release desk: every action on a release request, each checked, applied and audited in one place.

A method checks the actor (permissions.check_user_can_*), checks the transition
(states.check_transition), changes the rows and writes the audit event in the same
transaction, so a refused action writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cirn import audit
from cirn.enclave import Enclave
from cirn.errors import CirnError, Conflict, NotFound, Refused
from cirn.models import Member, Project, utcnow
from cirn.projects import spawn_decision

from . import permissions as perm
from .checking import Checker, dumps, worst
from .identifier_list import hold_without_identifiers, identifier_list_missing
from . import manifest_scan as text_scan
from .models import Comment, FileReview, Release, ReleaseRequest, RequestFile, ReviewSubmission
from .package import build_package
from .previews import hold_unseen, needs_override
from .snapshot import normalise, stage_from_workspace
from .states import EVENTS, FileDecision, Party, RequestState, Visibility, check_transition
from .store import ContentStore, Staged

log = logging.getLogger("cirn.egress.review")

MAX_FILES = 50
MAX_TEXT = 10_000


class InvalidSubmission(CirnError):
    """A submission or decision whose content is wrong (missing reason, malformed notebook...)."""


@dataclass(frozen=True)
class FileSpec:
    path: str
    justification: str = ""


def _text(value, what: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidSubmission(f"{what} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidSubmission(f"{what} is required")
    if len(value) > limit:
        raise InvalidSubmission(f"{what} is longer than {limit} characters")
    return value


def _check_notebook(path: str, data: bytes) -> None:
    import nbformat  # imported on first use: it pulls in jsonschema, slow to load

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InvalidSubmission(f"{path} is not a valid notebook ({first}); open it in JupyterLab, "
                                "save it, and submit again") from None


class ReleaseDesk:
    def __init__(self, enclave: Enclave, checker: Checker | None = None, today=dt.date.today):
        self.enclave = enclave
        self.store = ContentStore(enclave.state.egress_store)
        self.outbox = enclave.state.egress_outbox
        self.checker = checker or Checker(enclave.policy.egress, enclave.state.project_dir)
        self.today = today

    @property
    def size_cap(self) -> int:
        return self.enclave.policy.egress.max_file_bytes

    # -- who --------------------------------------------------------------------------------
    def person(self, name: str, reviewer: bool = False, container_project: str | None = None,
               inside: bool = False) -> perm.Person:
        """Who is calling, from the project store; Refused for an account the identity provider
        refused (its hub token or OAuth cookie may still be valid for a while)."""
        from cirn.hub.identity import check_account_accepted

        with self.enclave.db.session() as s:
            check_account_accepted(s, name)
            projects = frozenset(s.execute(
                select(Project.slug).join(Member).where(Member.username == name)
            ).scalars())
        return perm.Person(name, reviewer, projects, container_project, inside)

    # -- reading ----------------------------------------------------------------------------
    @staticmethod
    def _load(s: Session, request_id: int, lock: bool = False) -> ReleaseRequest:
        q = select(ReleaseRequest).where(ReleaseRequest.id == request_id).options(
            selectinload(ReleaseRequest.files), selectinload(ReleaseRequest.reviews),
            selectinload(ReleaseRequest.submissions), selectinload(ReleaseRequest.comments),
            selectinload(ReleaseRequest.release))
        if lock:
            q = q.with_for_update()
        req = s.execute(q).scalar_one_or_none()
        if req is None:
            raise NotFound(f"there is no release request {request_id}")
        return req

    def get(self, person: perm.Person, request_id: int) -> ReleaseRequest:
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            perm.check_user_can_view(person, req)
            return req

    def list_for(self, person: perm.Person, project: str | None = None) -> list[ReleaseRequest]:
        """Requests of the person's projects, newest first."""
        projects = set(person.projects)
        if person.container_project:
            projects &= {person.container_project}
        if project is not None:
            projects &= {project}
        if not projects:
            return []
        with self.enclave.db.session() as s:
            return list(s.execute(select(ReleaseRequest).where(ReleaseRequest.project.in_(projects))
                                  .order_by(ReleaseRequest.id.desc())
                                  .options(selectinload(ReleaseRequest.files))).scalars())

    def queue(self, person: perm.Person, limit: int = 500) -> list[ReleaseRequest]:
        """Requests waiting for review, oldest first, that this reviewer may review."""
        if not person.reviewer or person.container_project:
            raise Refused(f"{person.name} is not an egress reviewer (the custom:egress:review scope is needed)")
        with self.enclave.db.session() as s:
            rows = s.execute(select(ReleaseRequest)
                             .where(ReleaseRequest.state.in_([RequestState.submitted, RequestState.checked,
                                                              RequestState.in_review]))
                             .where(ReleaseRequest.requester != person.name)
                             .where(ReleaseRequest.project.not_in(person.projects or {""}))
                             .order_by(ReleaseRequest.created_at, ReleaseRequest.id).limit(limit)
                             .options(selectinload(ReleaseRequest.files),
                                      selectinload(ReleaseRequest.submissions))).scalars()
            return list(rows)

    def blob(self, person: perm.Person, request_id: int, file_id: int) -> tuple[RequestFile, bytes]:
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            perm.check_user_can_view(person, req)
            f = next((f for f in req.files if f.id == file_id), None)
            if f is None:
                raise NotFound(f"request {request_id} has no file {file_id}")
        return f, self.store.read_verified(f.sha256)

    # -- the requester ---------------------------------------------------------------------
    def _stage(self, project: str, specs: list[FileSpec]) -> list[tuple[FileSpec, str, Staged]]:
        staged: list[tuple[FileSpec, str, Staged]] = []
        workspace = self.enclave.state.project_workspace(project)
        try:
            for spec in specs:
                path, blob = stage_from_workspace(self.store, workspace, spec.path, self.size_cap)
                staged.append((spec, path, blob))
                if path.lower().endswith(".ipynb"):
                    _check_notebook(path, blob.tmp.read_bytes())
        except BaseException:
            self.store.discard([b for _, _, b in staged])
            raise
        return staged

    def _specs(self, files, reason: str, required: bool = True) -> list[FileSpec]:
        if not isinstance(files, list) or (required and not files):
            raise InvalidSubmission("list at least one file to release")
        if len(files) > MAX_FILES:
            raise InvalidSubmission(f"a request holds at most {MAX_FILES} files; split it into several requests")
        specs, seen = [], set()
        for i, f in enumerate(files, start=1):
            if isinstance(f, FileSpec):
                spec = f
            elif isinstance(f, dict) and isinstance(f.get("path"), str):
                spec = FileSpec(f["path"], _text(f.get("justification"), f"file {i}'s justification"))
            else:
                raise InvalidSubmission(f"file {i} must be an object with a 'path'")
            path = normalise(spec.path)
            if path in seen:
                raise InvalidSubmission(f"{path} is listed twice")
            seen.add(path)
            if not spec.justification and not reason:
                raise InvalidSubmission(f"say why {path} is safe to release: give a reason for the request "
                                        "or a justification for the file (what it is, why it is safe, "
                                        "what was done to make it safe)")
            specs.append(FileSpec(path, spec.justification or reason))
        return specs

    def _check_project_usable(self, s: Session, person: perm.Person, project: str) -> None:
        decision = spawn_decision(s, person.name, project, self.today())
        if not decision.allowed:
            raise Refused(decision.reason)

    def submit(self, person: perm.Person, project: str, files, reason: str = "") -> int:
        """Snapshot the files and queue the request; nothing is written unless every file is accepted."""
        if not isinstance(project, str):
            raise InvalidSubmission("name the project the files come from")
        perm.check_user_can_submit(person, project)
        reason = _text(reason, "the reason")
        specs = self._specs(files, reason)
        with self.enclave.db.session() as s:
            self._check_project_usable(s, person, project)
        staged = self._stage(project, specs)
        try:
            for _, _, blob in staged:
                self.store.commit(blob)
        except BaseException:
            self.store.discard([b for _, _, b in staged])
            raise
        with self.enclave.db.session() as s:
            now = utcnow()
            req = ReleaseRequest(project=project, requester=person.name, state=RequestState.submitted,
                                 reason=reason, round=1, created_at=now, updated_at=now)
            for spec, path, blob in staged:
                req.files.append(RequestFile(path=path, sha256=blob.sha256, size=blob.size,
                                             justification=spec.justification, round=1))
            s.add(req)
            s.flush()
            audit.record(s, person.name, EVENTS["submit"], req.subject, project=project, reason=reason,
                         files=[{"path": f.path, "sha256": f.sha256, "size": f.size} for f in req.files],
                         via="container" if person.container_project else "browser")
            return req.id

    def resubmit(self, person: perm.Person, request_id: int, files=None, remove=None, reason: str | None = None) -> None:
        """Take new snapshots of some files (or add files), drop others, and queue the request again."""
        files = files or []
        remove = remove or []
        if not isinstance(remove, list) or not all(isinstance(p, str) for p in remove):
            raise InvalidSubmission("'remove' must be a list of file paths")
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            perm.check_user_can_resubmit(person, req)
            check_transition(req.state, "resubmit", Party.requester)
            self._check_project_usable(s, person, req.project)
            project = req.project
            old_reason = req.reason
        new_reason = _text(reason, "the reason") if reason is not None else old_reason
        specs = self._specs(files, new_reason, required=False)
        remove_paths = {normalise(p) for p in remove}
        staged = self._stage(project, specs)
        try:
            with self.enclave.db.session() as s:
                req = self._load(s, request_id, lock=True)
                check_transition(req.state, "resubmit", Party.requester)  # again, under the lock
                existing = {f.path: f for f in req.files}
                unknown = sorted(remove_paths - set(existing))
                if unknown:
                    raise InvalidSubmission(f"{', '.join(unknown)} is not part of request {request_id}")
                for blob in staged:
                    self.store.commit(blob[2])
                step = check_transition(req.state, "resubmit", Party.requester)
                req.round += 1
                changes = []
                for path in sorted(remove_paths):
                    req.files.remove(existing.pop(path))
                    changes.append({"path": path, "change": "removed"})
                for spec, path, blob in staged:
                    f = existing.get(path)
                    if f is None:
                        f = RequestFile(path=path, sha256=blob.sha256, size=blob.size,
                                        justification=spec.justification, round=req.round)
                        req.files.append(f)
                        changes.append({"path": path, "change": "added", "sha256": blob.sha256})
                    else:
                        changed = f.sha256 != blob.sha256
                        f.sha256, f.size, f.justification, f.round = blob.sha256, blob.size, spec.justification, req.round
                        if changed:
                            f.kind, f.verdict, f.findings_json = None, None, "[]"
                        changes.append({"path": path, "change": "updated" if changed else "unchanged",
                                        "sha256": blob.sha256})
                if not req.files:
                    raise InvalidSubmission("a resubmitted request must still hold at least one file; "
                                            "withdraw it instead")
                restaged = {path for _, path, _ in staged}
                for f in req.files:  # a justification copied from the old reason follows the new one
                    if f.path not in restaged and new_reason != req.reason and f.justification == req.reason:
                        f.justification = new_reason
                req.reason, req.state, req.verdict, req.updated_at = new_reason, step.target, None, utcnow()
                s.flush()
                audit.record(s, person.name, step.event, req.subject, project=project, round=req.round,
                             changes=changes)
        except BaseException:
            self.store.discard([b for _, _, b in staged if b.tmp.exists()])
            raise

    def withdraw(self, person: perm.Person, request_id: int) -> None:
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_withdraw(person, req)
            self._apply(s, req, "withdraw", Party.requester, person.name)

    # -- the checks -------------------------------------------------------------------------
    def pending_checks(self) -> list[int]:
        with self.enclave.db.session() as s:
            return list(s.execute(select(ReleaseRequest.id).where(ReleaseRequest.state == RequestState.submitted)
                                  .order_by(ReleaseRequest.id)).scalars())

    def run_checks(self, request_id: int) -> None:
        """Scan every file not scanned yet and move the request to `checked` (idempotent, restartable)."""
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            if req.state is not RequestState.submitted:
                return
            todo = [(f.id, f.path, f.sha256) for f in req.files if f.verdict is None]
            project = req.project
            fields = text_scan.released_text(req)
        results = {}
        no_identifiers = identifier_list_missing(self.enclave.state.project_dir(project))
        for file_id, path, sha in todo:
            data = self.store.read_verified(sha)
            results[file_id] = hold_unseen(self.checker.scan(project, path, data), data, path,
                                           self.enclave.policy.egress)
            if no_identifiers:
                results[file_id] = hold_without_identifiers(project, results[file_id], path)
        text_findings = text_scan.scan_fields(self.checker, project, fields)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            if req.state is not RequestState.submitted:
                return
            for f in req.files:
                if f.id in results:
                    f.kind, f.verdict, reports = results[f.id]
                    f.findings_json = dumps(reports)
                    audit.record(s, "egress-service", EVENTS["scan"], req.subject, path=f.path, sha256=f.sha256,
                                 verdict=f.verdict, findings=sum(len(r.get("findings", [])) for r in reports))
            req.text_findings_json = dumps(text_findings)
            audit.record(s, "egress-service", EVENTS["scan"], req.subject, path=text_scan.TEXT_NAME,
                         verdict=text_scan.verdict(text_findings), findings=len(text_findings))
            req.verdict = worst([*(f.verdict or "block" for f in req.files), text_scan.verdict(text_findings)])
            self._apply(s, req, "check", Party.system, "egress-service", verdict=req.verdict)

    # -- reviewers --------------------------------------------------------------------------
    def _apply(self, s: Session, req: ReleaseRequest, action: str, who: Party, actor: str, **details) -> None:
        step = check_transition(req.state, action, who)
        req.state, req.updated_at = step.target, utcnow()
        s.flush()
        audit.record(s, actor, step.event, req.subject, project=req.project, round=req.round, **details)

    @staticmethod
    def required_approvals(req: ReleaseRequest) -> int:
        """The two-person rule: any `review` or `block` finding, in a file or in the request's own
        text, needs two independent approvals."""
        held = any(f.verdict in ("review", "block", None) for f in req.files) or bool(req.text_findings)
        return 2 if held else 1

    def _scan_comment(self, project: str, author: str, round_: int, body: str) -> list[dict]:
        """Findings of a comment the requester will see (and the manifest will carry); one with a
        `block` finding is refused, so that nothing in it has to be overridden."""
        found = text_scan.scan_fields(self.checker, project, [text_scan.comment_field(author, round_, body)])
        if text_scan.blocking(found):
            raise InvalidSubmission("the comment is released with the package, and the checks found "
                                    f"{text_scan.describe(text_scan.blocking(found))}; rephrase it without that, "
                                    "or make it visible to reviewers only")
        return found

    @staticmethod
    def _add_text_findings(req: ReleaseRequest, found: list[dict]) -> None:
        if found:
            req.text_findings_json = dumps(req.text_findings + found)
            req.verdict = worst([req.verdict or "pass", text_scan.verdict(found)])

    def decide(self, person: perm.Person, request_id: int, file_id: int, decision: str, comment: str = "",
               visibility: str = "requester", override_reason: str = "") -> None:
        try:
            decision_ = FileDecision(decision)
        except ValueError:
            raise InvalidSubmission(f"decision {decision!r} is not one of approve, request_changes, reject") from None
        try:
            visibility_ = Visibility(visibility or "requester")
        except ValueError:
            raise InvalidSubmission(f"visibility {visibility!r} is not one of reviewers, requester") from None
        comment = _text(comment, "the comment")
        override_reason = _text(override_reason, "the override reason")
        found: list[dict] = []
        if comment and visibility_ is Visibility.requester:
            with self.enclave.db.session() as s:
                req = self._load(s, request_id)
                perm.check_user_can_review(person, req)
                project, round_ = req.project, req.round
            found = self._scan_comment(project, person.name, round_, comment)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_review(person, req)
            if req.state is RequestState.submitted:
                raise Conflict(f"request {request_id} is still being checked; decide when the findings are in")
            if req.state is RequestState.checked:
                self._apply(s, req, "start_review", Party.reviewer, person.name)
            elif req.state is not RequestState.in_review:
                raise Conflict(f"request {request_id} is {req.state.value.replace('_', ' ')}; decisions are made "
                               "only while it is in review and cannot be changed afterwards")
            f = next((f for f in req.files if f.id == file_id), None)
            if f is None:
                raise NotFound(f"request {request_id} has no file {file_id}")
            if any(x.reviewer == person.name and x.round == req.round for x in req.submissions):
                raise Conflict(f"{person.name} has already submitted a review of round {req.round}; "
                               "decisions cannot be changed after that")
            if decision_ is FileDecision.approve and not override_reason and (f.verdict == "block"
                                                                              or needs_override(f.findings)):
                what = ("a block finding" if any(x["severity"] == "block" for x in f.findings) or f.verdict == "block"
                        else "content the review page cannot show in full")
                raise InvalidSubmission(f"{f.path} has {what}: approving it needs a written override "
                                        "reason saying why it is safe anyway")
            if decision_ is not FileDecision.approve and not comment:
                raise InvalidSubmission("say what must change (or why it is rejected) in a comment")
            review = next((x for x in req.reviews if x.file_id == f.id and x.reviewer == person.name
                           and x.round == req.round), None)
            if review is None:
                review = FileReview(request_id=req.id, file_id=f.id, reviewer=person.name, round=req.round,
                                    decision=decision_)
                req.reviews.append(review)
            review.decision, review.at = decision_, utcnow()
            review.override_reason = override_reason or None
            if comment:
                req.comments.append(Comment(file_id=f.id, author=person.name, body=comment,
                                            visibility=visibility_, round=req.round))
                self._add_text_findings(req, found)
            s.flush()
            audit.record(s, person.name, EVENTS["decide"], req.subject, path=f.path, sha256=f.sha256,
                         decision=decision_.value, override_reason=override_reason or None, comment=comment or None,
                         visibility=visibility_.value if comment else None, round=req.round)

    def submit_review(self, person: perm.Person, request_id: int) -> RequestState:
        """Finish this reviewer's review of the round; may return, approve (and release) the request."""
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_review(person, req)
            if req.state is not RequestState.in_review:
                raise Conflict(f"request {request_id} is {req.state.value.replace('_', ' ')}; only a request in "
                               "review takes reviews (decide on each file first)")
            if any(x.reviewer == person.name and x.round == req.round for x in req.submissions):
                raise Conflict(f"{person.name} has already submitted a review of round {req.round}")
            mine = {x.file_id: x for x in req.reviews if x.reviewer == person.name and x.round == req.round}
            undecided = [f.path for f in req.files if f.id not in mine]
            if undecided:
                raise Conflict(f"decide on every file first; undecided: {', '.join(undecided)}")
            blocked_text = text_scan.blocking(req.text_findings)
            if blocked_text and all(x.decision is FileDecision.approve for x in mine.values()):
                raise Conflict(f"request {request_id} cannot be approved: its own text, released in the package's "
                               f"manifest, has {text_scan.describe(blocked_text)}; ask for changes so that the "
                               "requester rewrites it")
            req.submissions.append(ReviewSubmission(request_id=req.id, reviewer=person.name, round=req.round))
            s.flush()
            audit.record(s, person.name, EVENTS["submit_review"], req.subject, round=req.round,
                         decisions={f.path: mine[f.id].decision.value for f in req.files})
            if any(x.decision is not FileDecision.approve for x in mine.values()):
                self._apply(s, req, "request_changes", Party.reviewer, person.name)
                return req.state
            approvers = {sub.reviewer for sub in req.submissions if sub.round == req.round
                         and all(x.decision is FileDecision.approve for x in req.reviews
                                 if x.reviewer == sub.reviewer and x.round == req.round)}
            if len(approvers) >= self.required_approvals(req):
                self._apply(s, req, "approve", Party.reviewer, person.name, approvers=sorted(approvers))
            state = req.state
        if state is RequestState.approved:
            return self.release(request_id)
        return state

    def release(self, request_id: int, person: perm.Person | None = None) -> RequestState:
        """Build the package of an approved request and mark it released (a reviewer may retry)."""
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            if person is not None:
                perm.check_user_can_review(person, req)
            check_transition(req.state, "release", Party.system)
            released_at = utcnow().isoformat()
            name, digest, size = build_package(self.store, self.outbox, req, released_at)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            if req.release is not None:
                s.delete(req.release)
                s.flush()
            req.release = Release(package=name, sha256=digest, size=size)
            self._apply(s, req, "release", Party.system, "egress-service", package=name, sha256=digest,
                        files={f.path: f.sha256 for f in req.files})
            return req.state

    def reject(self, person: perm.Person, request_id: int, comment: str) -> None:
        comment = _text(comment, "the reason for rejecting", required=True)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_review(person, req)
            req.comments.append(Comment(author=person.name, body=comment, visibility=Visibility.requester,
                                        round=req.round))
            self._apply(s, req, "reject", Party.reviewer, person.name, comment=comment)

    def revoke(self, person: perm.Person, request_id: int, reason: str) -> None:
        reason = _text(reason, "the reason for revoking", required=True)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_revoke(person, req)
            self._apply(s, req, "revoke", Party.reviewer, person.name, reason=reason)
            if req.release is not None:
                req.release.revoked_at, req.release.revoked_by, req.release.revoke_reason = utcnow(), person.name, reason
                (self.outbox / req.project / req.release.package).unlink(missing_ok=True)

    def comment(self, person: perm.Person, request_id: int, body: str, visibility: str = "requester",
                file_id: int | None = None) -> None:
        body = _text(body, "the comment", required=True)
        try:
            visibility_ = Visibility(visibility or "requester")
        except ValueError:
            raise InvalidSubmission(f"visibility {visibility!r} is not one of reviewers, requester") from None
        found: list[dict] = []
        if visibility_ is Visibility.requester:
            with self.enclave.db.session() as s:
                req = self._load(s, request_id)
                perm.check_user_can_comment(person, req, visibility_)
                self._check_comments_open(req)
                project, round_ = req.project, req.round
            found = self._scan_comment(project, person.name, round_, body)
        with self.enclave.db.session() as s:
            req = self._load(s, request_id, lock=True)
            perm.check_user_can_comment(person, req, visibility_)
            if visibility_ is Visibility.requester:
                self._check_comments_open(req)  # again, under the lock
            if file_id is not None and not any(f.id == file_id for f in req.files):
                raise NotFound(f"request {request_id} has no file {file_id}")
            req.comments.append(Comment(file_id=file_id, author=person.name, body=body, visibility=visibility_,
                                        round=req.round))
            self._add_text_findings(req, found)
            s.flush()
            audit.record(s, person.name, EVENTS["comment"], req.subject, visibility=visibility_.value,
                         file_id=file_id, body=body)

    @staticmethod
    def _check_comments_open(req: ReleaseRequest) -> None:
        if req.state in text_scan.FROZEN:
            raise Conflict(f"request {req.id} is {req.state.value}: comments the requester sees are released in "
                           "its package's manifest, so they froze at approval; add a reviewers-only comment instead")

    def package_for_download(self, person: perm.Person, request_id: int) -> tuple[Path, Release]:
        with self.enclave.db.session() as s:
            req = self._load(s, request_id)
            perm.check_user_can_download(person, req)
            rel = req.release
            if rel is None or rel.revoked_at is not None:
                raise Refused(f"the package of request {request_id} was revoked and cannot be downloaded")
            path = self.outbox / req.project / rel.package
            if not path.is_file():
                raise NotFound(f"the package of request {request_id} is missing from the outbox; "
                               "ask an egress reviewer to release it again")
            audit.record(s, person.name, EVENTS["download"], req.subject, package=rel.package, sha256=rel.sha256)
            return path, rel
