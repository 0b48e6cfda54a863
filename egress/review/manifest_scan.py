"""Checking a request's own text like a file: its reason, each file's path and justification, and
the comments the requester sees all leave in the package's manifest.json, so an identifier or
personal data in them would leave too.

Findings are kept on the request (`text_findings`), each naming the field it is in. What they do
(the desk applies it):
- any finding in the text holds the request: it needs two approvals;
- a `block` finding in the requester's text (reason, path, justification) cannot be approved:
  reviewers ask for changes and the requester rewrites it when resubmitting;
- a comment visible to the requester is scanned when written, and refused if it has a `block`
  finding (rephrase it, or make it reviewers-only); a `review` finding holds the request.
Comments freeze at approval: once a request is approved (then released or revoked), no comment
visible to the requester can be added, since it would be released unreviewed in the manifest;
reviewers-only comments, which never leave, may still be added. No comment is ever edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .checking import worst
from .states import RequestState, Visibility

TEXT_NAME = "request-text.txt"  # the name the text is scanned under
FROZEN = frozenset({RequestState.approved, RequestState.released, RequestState.revoked})
HEADER = "release request text\n"  # one line with no delimiter, so the text is never taken for a table
LINE_RE = re.compile(r"^line (\d+), col (\d+)(.*)$")


@dataclass(frozen=True)
class Field:
    label: str   # names the field, never quotes it
    text: str


def released_text(req) -> list[Field]:
    """The free text of a request that the package's manifest carries."""
    out = [Field("the request's reason", req.reason or "")]
    for i, f in enumerate(req.files, start=1):
        out.append(Field(f"file {i}'s path", f.path))
        if f.justification and f.justification != req.reason:
            out.append(Field(f"file {i}'s justification", f.justification))
    out += [comment_field(c.author, c.round, c.body) for c in req.comments
            if c.visibility is Visibility.requester]
    return out


def comment_field(author: str, round_: int, body: str) -> Field:
    return Field(f"a comment by {author} (round {round_})", body)


def scan_fields(checker, project: str, fields: list[Field]) -> list[dict]:
    """The checks' findings on these fields, each located in its field (`field`, `location`)."""
    fields = [Field(f.label, re.sub(r"\r\n?", "\n", f.text)) for f in fields if f.text.strip()]
    if not fields:
        return []
    starts, parts, line = [], [HEADER], HEADER.count("\n") + 1
    for f in fields:
        body = f.text if f.text.endswith("\n") else f.text + "\n"
        starts.append((line, f))
        parts.append(body)
        line += body.count("\n")
    _, _, reports = checker.scan(project, TEXT_NAME, "".join(parts).encode("utf-8"))
    out = []
    for report in reports:
        for finding in report.get("findings", []):
            out.append(_located(finding, starts))
    return out


def _located(finding: dict, starts: list[tuple[int, Field]]) -> dict:
    m = LINE_RE.match(finding.get("location", ""))
    if not m:
        return dict(finding, field="the request's text", location=f"the request's text, {finding.get('location', '')}")
    line = int(m.group(1))
    first, field = max(((s, f) for s, f in starts if s <= line), key=lambda x: x[0], default=starts[0])
    return dict(finding, field=field.label, location=f"{field.label}, line {line - first + 1}, col {m.group(2)}{m.group(3)}")


def verdict(findings: list[dict]) -> str:
    return worst(f.get("severity", "block") for f in findings)


def blocking(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f.get("severity") == "block"]


def describe(findings: list[dict]) -> str:
    return "; ".join(f"{f['check']} in {f['location']}: {f['message']}" for f in findings[:5])
