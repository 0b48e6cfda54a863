"""Accounts the identity provider no longer accepts: recorded when a login refresh is refused,
cleared at the next successful login, and asked for by the reconciler (to stop their servers), the
spawner and the egress desk (to refuse them), and the hub's token sweep (to delete their tokens)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cirn import audit
from cirn.db import Base
from cirn.errors import Refused
from cirn.models import utcnow


class IdentityRefusal(Base):
    __tablename__ = "identity_refusals"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


def record_refusal(session: Session, username: str, reason: str) -> None:
    row = session.get(IdentityRefusal, username)
    if row is None:
        session.add(IdentityRefusal(username=username, reason=reason))
        session.flush()
        audit.record(session, "identity-provider", "login.refused_at_refresh", username, reason=reason)


def clear_refusal(session: Session, username: str) -> None:
    row = session.get(IdentityRefusal, username)
    if row is not None:
        session.delete(row)
        session.flush()
        audit.record(session, username, "login.restored", username)


def refused_accounts(session: Session) -> set[str]:
    """User names whose servers must stop: the identity provider refused their last refresh."""
    return set(session.execute(select(IdentityRefusal.username)).scalars())


def check_account_accepted(session: Session, username: str) -> None:
    """Raise Refused when the identity provider refused `username`'s last refresh.

    A token or a server outlives the hub session the provider ended, so whatever acts for a person
    (a spawn, an egress call) asks here too, not only the login.
    """
    row = session.get(IdentityRefusal, username)
    if row is not None:
        raise Refused(f"the identity provider no longer accepts the account {username!r} (refused at "
                      f"{row.at:%Y-%m-%d %H:%M} UTC); log in again through the hub, or ask an enclave admin "
                      "whether the account is still active")
