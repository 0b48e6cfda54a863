"""Release requests as the API and the pages show them, filtered for the person looking."""

from __future__ import annotations

from cirn.egress.review import permissions as perm
from cirn.egress.review.previews import needs_override
from cirn.egress.review.states import FINAL, RequestState, actions_from


def visible_reviews(req, person) -> list:
    """Reviews of this round a person may see: reviewers decide independently, so one sees the other's
    decisions only after submitting their own; the requester sees them once the round is decided."""
    mine_done = any(s.reviewer == person.name and s.round == req.round for s in req.submissions)
    out = []
    for r in req.reviews:
        if r.round != req.round:
            continue
        if perm.user_can_review(person, req):
            if r.reviewer == person.name or mine_done:
                out.append(r)
        elif req.state not in (RequestState.checked, RequestState.in_review):
            out.append(r)
    return out


def file_dict(f, req, person, reviews) -> dict:
    return {
        "id": f.id, "path": f.path, "sha256": f.sha256, "size": f.size, "kind": f.kind, "verdict": f.verdict,
        "justification": f.justification, "round": f.round, "findings": f.findings,
        "needs_override": f.verdict == "block" or needs_override(f.findings),
        "decisions": [{"reviewer": r.reviewer, "decision": r.decision.value, "override_reason": r.override_reason,
                       "at": r.at.isoformat()} for r in reviews if r.file_id == f.id],
    }


def request_dict(req, person, brief: bool = False) -> dict:
    out = {
        "id": req.id, "project": req.project, "requester": req.requester, "state": req.state.value,
        "reason": req.reason, "round": req.round, "verdict": req.verdict,
        "created_at": req.created_at.isoformat(), "updated_at": req.updated_at.isoformat(),
        "files": [{"id": f.id, "path": f.path, "verdict": f.verdict, "kind": f.kind, "size": f.size}
                  for f in req.files] if brief else [file_dict(f, req, person, visible_reviews(req, person)) for f in req.files],
    }
    if brief:
        return out
    out["comments"] = [{"id": c.id, "author": c.author, "body": c.body, "visibility": c.visibility.value,
                        "file_id": c.file_id, "round": c.round, "at": c.at.isoformat()}
                       for c in req.comments if perm.user_can_see_comment(person, req, c)]
    out["text_findings"] = req.text_findings  # of the reason, paths, justifications and comments (manifest_scan)
    out["reviews"] = [{"reviewer": s.reviewer, "round": s.round, "at": s.at.isoformat()} for s in req.submissions]
    out["release"] = None if req.release is None else {
        "package": req.release.package, "sha256": req.release.sha256, "size": req.release.size,
        "created_at": req.release.created_at.isoformat(),
        "revoked_at": req.release.revoked_at.isoformat() if req.release.revoked_at else None,
        "revoke_reason": req.release.revoke_reason}
    out["final"] = req.state in FINAL
    out["possible_actions"] = actions_from(req.state)
    out["you"] = {"can_review": perm.user_can_review(person, req), "can_withdraw": perm.user_can_withdraw(person, req),
                  "can_resubmit": perm.user_can_resubmit(person, req),
                  "can_download": perm.user_can_download(person, req)
                  and req.release is not None and req.release.revoked_at is None}
    return out
