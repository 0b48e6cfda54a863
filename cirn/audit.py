"""The append-only, hash-chained audit log shared by every part of the enclave.

Each event's hash covers its content and the previous event's hash, so editing or removing any
event breaks the chain from that point on; `verify` names the first event that does not fit.
Writers take a row lock on the chain head, so concurrent writers (hub, reconciler, egress
service, CLI) append one after another instead of forking the chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


def event_hash(seq: int, at: dt.datetime, actor: str, action: str, subject: str, details: str,
               prev_hash: str) -> str:
    body = json.dumps([seq, at.isoformat(timespec="microseconds"), actor, action, subject, details, prev_hash],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(session: Session, actor: str, action: str, subject: str, **details) -> AuditEvent:
    """Append one event in the caller's transaction, so the event and the change commit together."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    seq = head.seq + 1
    at = utcnow()
    body = json.dumps(details, sort_keys=True, ensure_ascii=False, default=str)
    digest = event_hash(seq, at, actor, action, subject, body, head.hash)
    event = AuditEvent(seq=seq, at=at, actor=actor, action=action, subject=subject, details=body,
                       prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit event {self.seq}: {self.reason}"


def verify(session: Session) -> ChainProblem | None:
    """Walk the chain; return the first problem (edited, removed or reordered event), or None."""
    prev, expected_seq = GENESIS, 1
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        if event.seq != expected_seq:
            return ChainProblem(expected_seq, f"is missing (next present event is {event.seq})")
        if event.prev_hash != prev:
            return ChainProblem(event.seq, "does not follow the previous event (an event before it was changed or removed)")
        if event_hash(event.seq, event.at, event.actor, event.action, event.subject, event.details,
                      event.prev_hash) != event.hash:
            return ChainProblem(event.seq, "was edited after it was written (its hash does not match its content)")
        prev, expected_seq = event.hash, expected_seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
        return ChainProblem(expected_seq, f"is missing: the log should end at event {head.seq}")
    return None


def export_csv(session: Session, since: dt.datetime | None = None) -> str:
    """The log (or the part from `since`) as CSV, for the data protection officer."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seq", "at", "actor", "action", "subject", "details", "hash"])
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    for e in session.execute(query).scalars():
        writer.writerow([e.seq, e.at.isoformat(), e.actor, e.action, e.subject, e.details, e.hash])
    return out.getvalue()
