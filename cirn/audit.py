"""The append-only audit log shared by every part of the enclave: an HMAC chain anchored outside the database.

Each event's MAC covers its content and the previous event's MAC, keyed with the chain key kept
in the state folder's secrets (`secrets/audit-chain-key`), so a database writer who edits,
re-chains or removes events cannot make them fit again. The database alone cannot show that its
last events were cut off (with the head moved back) or that it was emptied, so every committed
event is also appended to an anchor file outside the database (`audit/anchor.log`, one
"seq mac" line per event, under flock); `verify` checks the log against it and fails when the
anchor is missing. Writers take a row lock on the chain head, so concurrent writers (hub,
reconciler, egress service, CLI) append one after another instead of forking the chain.

Why a key file and not a separate signer process: every writer is an enclave process on the
same host under the same service account, and each must sign what it writes, so a signer would
only move the key one socket away from them while adding a hop to every audit write. The people
this guards against are those who can write the database but are not that account: PostgreSQL
administrators and roles, whoever holds a database dump, a restore gone wrong.

Events written before chain version 2 (version 1: plain SHA-256) stay as they are; the first
write after the upgrade (or `cirn init`) appends an `audit.chain_sealed` checkpoint whose MAC
covers the last version-1 hash, so they cannot be rewritten from then on either.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import hmac
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
CHAIN_VERSION = 2
KEY_NAME = "audit-chain-key"
ANCHOR_HEADER = "cirn-audit-anchor 1\n"
SEALED = "audit.chain_sealed"
_PENDING = "audit_anchor_pending"

log = logging.getLogger(__name__)


class AuditUnsealed(RuntimeError):
    """A session without the chain key and anchor (a Database opened without `AuditSeal`)."""


class AuditSeal:
    """What the database does not hold: the chain key and the anchor file.

    `key` is a callable so the key is read (or made) on first use, not when the enclave opens.
    """

    def __init__(self, key: Callable[[], str], anchor: Path):
        self._key_source = key
        self._key: bytes | None = None
        self.anchor = Path(anchor)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = bytes.fromhex(self._key_source())
        return self._key

    def mac(self, body: bytes) -> str:
        return hmac.new(self.key, body, hashlib.sha256).hexdigest()

    def _open(self) -> int:
        fd = os.open(self.anchor, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size == 0:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size == 0:
                    os.write(fd, ANCHOR_HEADER.encode())
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return fd

    def create_anchor(self) -> None:
        """Create the anchor file (header only) if it does not exist yet."""
        self.anchor.parent.mkdir(parents=True, exist_ok=True)
        os.close(self._open())

    def append(self, entries: list[tuple[int, str]]) -> None:
        """Append "seq mac" lines in one write under an exclusive flock.

        O_APPEND makes the write land at the end even with other writers; the flock keeps
        whole batches apart on filesystems where that alone is not enough. No fsync: a line
        lost in a crash only leaves events past the anchor, which the MAC chain still covers.
        """
        data = "".join(f"{seq} {mac}\n" for seq, mac in entries).encode()
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> list[tuple[int, str]] | None:
        """The anchored (seq, mac) pairs in file order, or None when the anchor file is missing.

        A last line without its newline is a write cut short by a crash and is left out.
        """
        try:
            text = self.anchor.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        lines = text.split("\n")
        entries = []
        for number, line in enumerate(lines[:-1], 1):
            if number == 1 and line + "\n" == ANCHOR_HEADER:
                continue
            seq, _, mac = line.partition(" ")
            if not seq.isdigit() or len(mac) != 64:
                raise ValueError(f"{self.anchor} line {number} is not 'seq mac': {line[:80]!r}")
            entries.append((int(seq), mac))
        return entries


def _seal(session: Session) -> AuditSeal:
    seal = session.info.get("audit_seal")
    if seal is None:
        raise AuditUnsealed("this database session has no audit seal (chain key and anchor): open the "
                            "database through cirn.enclave.Enclave.db")
    return seal


def _body(version: int, seq: int, at: dt.datetime, actor: str, action: str, subject: str, details: str,
          prev_hash: str) -> bytes:
    fields = [seq, at.isoformat(timespec="microseconds"), actor, action, subject, details, prev_hash]
    if version >= 2:
        fields.insert(0, version)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(seq: int, at: dt.datetime, actor: str, action: str, subject: str, details: str,
               prev_hash: str) -> str:
    """The version-1 (plain SHA-256) hash of an event, as written before the chain was sealed."""
    return hashlib.sha256(_body(1, seq, at, actor, action, subject, details, prev_hash)).hexdigest()


def event_mac(seal: AuditSeal, event: AuditEvent) -> str:
    """What `event.hash` must be for its version."""
    body = _body(event.version, event.seq, event.at, event.actor, event.action, event.subject,
                 event.details, event.prev_hash)
    return seal.mac(body) if event.version >= 2 else hashlib.sha256(body).hexdigest()


def _append(session: Session, seal: AuditSeal, head: AuditHead, actor: str, action: str, subject: str,
            body: str) -> AuditEvent:
    event = AuditEvent(seq=head.seq + 1, at=utcnow(), actor=actor, action=action, subject=subject,
                       details=body, prev_hash=head.hash, version=CHAIN_VERSION)
    event.hash = event_mac(seal, event)
    session.add(event)
    head.seq, head.hash, head.version = event.seq, event.hash, CHAIN_VERSION
    session.info.setdefault(_PENDING, []).append((event.seq, event.hash))
    return event


def _locked_head(session: Session, seal: AuditSeal) -> AuditHead:
    """The chain head, row-locked; a version-1 head gets its sealing checkpoint first."""
    # SQLite ignores FOR UPDATE: a no-op UPDATE first takes its write lock, so two writers
    # cannot both read the same head. On PostgreSQL it locks the row like FOR UPDATE.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, version=CHAIN_VERSION)
        session.add(head)
        session.flush()
    elif head.version < CHAIN_VERSION:
        if head.seq:
            details = json.dumps({"legacy_events": head.seq, "legacy_head": head.hash}, sort_keys=True)
            _append(session, seal, head, "system", SEALED, "audit-log", details)
        head.version = CHAIN_VERSION
    return head


def record(session: Session, actor: str, action: str, subject: str, **details) -> AuditEvent:
    """Append one event in the caller's transaction, so the event and the change commit together.

    The event reaches the anchor file once the transaction commits (nothing for a rollback).
    """
    seal = _seal(session)
    head = _locked_head(session, seal)
    body = json.dumps(details, sort_keys=True, ensure_ascii=False, default=str)
    event = _append(session, seal, head, actor, action, subject, body)
    session.flush()
    return event


def seal_chain(session: Session) -> None:
    """Create the anchor file and seal a version-1 log with its checkpoint (idempotent)."""
    seal = _seal(session)
    seal.create_anchor()
    seal.key  # made now, by `cirn init`, rather than by whichever service writes first
    head = session.get(AuditHead, 1)
    if head is not None and head.version < CHAIN_VERSION:
        _locked_head(session, seal)
        session.flush()


@sa_event.listens_for(Session, "after_commit")
def _anchor_committed(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    try:
        _seal(session).append(entries)
    except OSError:
        # The events are committed: raising now would tell the caller its change failed. An
        # event past the anchor is still covered by the MAC chain; say loudly that it is not anchored.
        log.exception("audit events %s committed but not anchored in the anchor file", [s for s, _ in entries])


@sa_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        # seq 0: a problem of the whole log (no anchor, not sealed), not of one event
        return f"audit event {self.seq}: {self.reason}" if self.seq else f"audit log: {self.reason}"


def verify(session: Session) -> ChainProblem | None:
    """Walk the chain and hold it to the anchor; return the first problem, or None.

    Problems: an event edited, removed, reordered or re-chained (its MAC does not fit); an
    unsigned (version-1) event after the seal; events the anchor records that the log no longer
    has (the end cut off, or everything wiped); an anchored MAC that differs from the event's
    (rewritten, or cut back and written again); a missing anchor file.
    """
    seal = _seal(session)
    prev, expected_seq, sealed = GENESIS, 1, False
    macs: dict[int, str] = {}
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        if event.seq != expected_seq:
            return ChainProblem(expected_seq, f"is missing (next present event is {event.seq})")
        if event.version < CHAIN_VERSION and sealed:
            return ChainProblem(event.seq, "is unsigned (chain version 1) but follows signed events: it was rewritten")
        if event.prev_hash != prev:
            return ChainProblem(event.seq, "does not follow the previous event (an event before it was changed or removed)")
        if not hmac.compare_digest(event_mac(seal, event), event.hash):
            return ChainProblem(event.seq, "was edited after it was written (its MAC does not match its content)")
        sealed = sealed or event.version >= CHAIN_VERSION
        macs[event.seq] = event.hash
        prev, expected_seq = event.hash, expected_seq + 1
    last = expected_seq - 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last or head.hash != prev):
        return ChainProblem(last + 1, f"is missing: the log should end at event {head.seq}")
    anchored = seal.read()
    if anchored is None:
        hint = (" the log predates chain version 2: run `cirn init` to seal it" if last and not sealed
                else " restore it from the backup of the state folder")
        return ChainProblem(0, f"cannot be checked: the anchor file {seal.anchor} is missing;{hint}")
    for seq, mac in anchored:
        if seq > last:
            return ChainProblem(last + 1, f"is missing: the anchor records the log up to event "
                                          f"{max(s for s, _ in anchored)} (events were cut off or wiped)")
        if not hmac.compare_digest(macs.get(seq, ""), mac):
            return ChainProblem(seq, "differs from the anchored one (rewritten, or the log was cut back and written again)")
    if last and not sealed:
        return ChainProblem(0, "cannot be checked: the log is not sealed yet (chain version 1); run `cirn init`")
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
