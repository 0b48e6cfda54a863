"""Consent withdrawal: recording it, and the identifiers (participants and their samples) it removes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from cirn import audit
from cirn.errors import Conflict
from cirn.state import StateFolder

from .catalog import Catalog
from .models import Withdrawal


def withdraw(session: Session, actor: str, participant_id: str, reason: str | None = None) -> Withdrawal:
    participant_id = participant_id.strip()
    if not participant_id:
        raise Conflict("a withdrawal needs a participant id")
    if session.get(Withdrawal, participant_id) is not None:
        raise Conflict(f"participant {participant_id!r} has already withdrawn")
    row = Withdrawal(participant_id=participant_id, actor=actor, reason=reason)
    session.add(row)
    session.flush()
    audit.record(session, actor, "dataset.participant_withdrawn", participant_id, reason=reason)
    return row


def withdrawn_participants(session: Session) -> set[str]:
    return set(session.execute(select(Withdrawal.participant_id)).scalars())


@dataclass
class WithdrawnSet:
    """Identifiers to drop from extracts, by pseudonym namespace."""

    participants: set[str] = field(default_factory=set)
    samples: set[str] = field(default_factory=set)

    def contains(self, namespace: str | None, value) -> bool:
        if value is None:
            return False
        if namespace == "participant":
            return str(value) in self.participants
        if namespace == "sample":
            return str(value) in self.samples
        return False


def linked_samples(state: StateFolder, participants: set[str]) -> set[str]:
    """Samples of these participants, from every published table that holds both columns."""
    found: set[str] = set()
    if not participants:
        return found
    catalog = Catalog(state)
    for dv in catalog.all_versions():
        m = dv.manifest
        if m.get("kind") == "clinical" and m.get("participant_column") and m.get("sample_column"):
            pc, sc = m["participant_column"], m["sample_column"]
            try:
                t = pq.read_table(dv.path / m["tables"]["table"]["file"], columns=[pc, sc]).to_pydict()
            except (OSError, ValueError) as exc:
                # Skipping it could leave a withdrawn participant's samples in an extract: stop instead.
                raise Conflict(f"cannot read {dv.ref} to find the samples of withdrawn participants ({exc}); "
                               f"run `cirn datasets verify {dv.ref}` and restore it") from None
            found.update(str(s) for p, s in zip(t[pc], t[sc]) if p is not None and s is not None
                         and str(p) in participants)
        elif m.get("kind") in ("fastq", "bam"):
            found.update(f["sample"] for f in m.get("reads", []) if f.get("participant") in participants
                         and f.get("sample"))
    return found


def withdrawn_set(session: Session, state: StateFolder) -> WithdrawnSet:
    participants = withdrawn_participants(session)
    # A withdrawal may name a sample id directly (some sources know only samples): honour that too.
    return WithdrawnSet(participants, linked_samples(state, participants) | participants)


def known_anywhere(state: StateFolder, identifier: str) -> list[str]:
    """Published datasets whose participant or sample column holds `identifier` (for a warning)."""
    hits = []
    for dv in Catalog(state).all_versions():
        m = dv.manifest
        if m.get("kind") == "clinical":
            cols = [c for c in (m.get("participant_column"), m.get("sample_column")) if c]
            if cols:
                t = pq.read_table(dv.path / m["tables"]["table"]["file"], columns=cols).to_pydict()
                if any(identifier in (str(v) for v in t[c]) for c in cols):
                    hits.append(dv.ref)
        elif m.get("kind") == "vcf":
            t = pq.read_table(dv.path / m["tables"]["samples"]["file"]).column("sample").to_pylist()
            if identifier in t:
                hits.append(dv.ref)
    return hits
