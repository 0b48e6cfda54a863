"""Tables of the datasets part: consent withdrawals, and the pseudonyms issued to each project."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cirn.db import Base
from cirn.models import utcnow


class Withdrawal(Base):
    """A participant who withdrew consent: removed from every extract built afterwards.

    Kept in the database (not a file) so that the withdrawal and its audit event commit in one
    transaction, and a withdrawal can never be recorded without its audit trail (or vice versa).
    """

    __tablename__ = "withdrawals"

    participant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    withdrawn_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class IssuedPseudonym(Base):
    """A pseudonym that some extract of a project held: kept for good, so that the project's
    identifier list for the egress checks never loses it (see identifier_list.py)."""

    __tablename__ = "issued_pseudonyms"

    project: Mapped[str] = mapped_column(String(40), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
