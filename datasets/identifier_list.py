"""A project's identifier list for the egress checks (`egress-identifiers.txt`): every pseudonym
ever issued to the project, so that the list never shrinks.

A withdrawal or a revoked grant takes identifiers out of the extracts, not out of what the
project has already seen: a copy made earlier in the workspace still holds them, and the egress
checks must still find them there. The list is therefore the union of the pseudonyms of this
build, those recorded in the database (`issued_pseudonyms`, which this step adds to) and those of
the file already in place, so that neither deleting the file nor losing rows shrinks it. It is
written to a temporary name and renamed, one identifier per line.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import IssuedPseudonym

# Read by `cirn egress scan` in a project context (cirn.egress.cli.PROJECT_IDENTIFIERS) and by the
# egress-review service: in the project folder but outside every container mount.
EGRESS_IDENTIFIERS = "egress-identifiers.txt"


def issued_to(session: Session, slug: str) -> set[str]:
    return set(session.execute(select(IssuedPseudonym.pseudonym).where(IssuedPseudonym.project == slug)).scalars())


def record_issued(session: Session, slug: str, pseudonyms: set[str]) -> int:
    """Add the pseudonyms not yet recorded for project `slug`; how many were new."""
    new = sorted(set(pseudonyms) - issued_to(session, slug))
    session.add_all(IssuedPseudonym(project=slug, pseudonym=p) for p in new)
    session.flush()
    return len(new)


def read_identifier_list(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()}


def write_identifier_list(path: Path, identifiers: set[str]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text("".join(f"{i}\n" for i in sorted(identifiers)), encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def update_identifier_list(enclave, slug: str, issued: set[str]) -> set[str]:
    """Record `issued` for project `slug` and rewrite its list as everything ever issued; returns that."""
    path = enclave.state.project_dir(slug) / EGRESS_IDENTIFIERS
    with enclave.db.session() as s:
        # The file's own entries too: a list written before the database kept them must not shrink either.
        record_issued(s, slug, set(issued) | read_identifier_list(path))
        everything = issued_to(s, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_identifier_list(path, everything)
    return everything
