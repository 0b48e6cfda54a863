"""Tables of the project store and the audit log: Project, Member, Grant, AuditEvent, Account, and the
volume meter's MeterCounter, MeterUsage and MeterAlert."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Date, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class ProjectStatus(str, enum.Enum):
    active = "active"
    suspended = "suspended"
    closed = "closed"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[ProjectStatus] = mapped_column(Enum(ProjectStatus, native_enum=False, length=16),
                                                  default=ProjectStatus.active)
    expires: Mapped[dt.date] = mapped_column(Date)
    resource_profile: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    members: Mapped[list["Member"]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                   order_by="Member.username")
    grants: Mapped[list["Grant"]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                 order_by="Grant.dataset_id")

    def is_expired(self, today: dt.date) -> bool:
        """A project is usable through its expiry date and expired from the day after."""
        return today > self.expires


class MemberStatus(str, enum.Enum):
    active = "active"
    suspended = "suspended"  # by an enclave admin or by the volume meter, until an admin reinstates


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("project_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(100), index=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[MemberStatus] = mapped_column(Enum(MemberStatus, native_enum=False, length=16),
                                                 default=MemberStatus.active)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    project: Mapped[Project] = relationship(back_populates="members")


class Grant(Base):
    """A dataset version granted to a project; `columns` limits it to named variables (JSON list)."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("project_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(63))
    columns: Mapped[str | None] = mapped_column(Text, nullable=True)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="grants")


class AuditEvent(Base):
    """One entry of the append-only, hash-chained audit log (see cirn.audit)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # 1: plain SHA-256 (before the seal, migration 0005); 2: HMAC-SHA-256 with the chain key.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class AuditHead(Base):
    """A single row locked while appending, so concurrent writers chain one after another."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Account(Base):
    """A local login for the demo authenticator (production logs in through OIDC)."""

    __tablename__ = "accounts"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    groups: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of hub group names (cirn.hub.groups)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MeterCounter(Base):
    """The last cumulative counts one server instance reported; a report only ever raises them."""

    __tablename__ = "meter_counters"
    __table_args__ = (UniqueConstraint("username", "project", "instance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    project: Mapped[str] = mapped_column(String(40))
    instance: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column(Date)  # the latest day its bytes were added to
    sent: Mapped[str] = mapped_column(Text, default="{}")  # JSON {kind: bytes}, cumulative since start
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # JSON {container, tx, sent}: the container's network counter and the reported total when first
    # seen, the baseline of the hub's cross-check (cirn.hub.meter.accounting.cross_check).
    network: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MeterUsage(Base):
    """Bytes one user's server of one project sent to the browser on one UTC day, by kind."""

    __tablename__ = "meter_usage"
    __table_args__ = (UniqueConstraint("username", "project", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    project: Mapped[str] = mapped_column(String(40))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    counted: Mapped[int] = mapped_column(BigInteger, default=0)  # what the daily levels apply to
    sent: Mapped[str] = mapped_column(Text, default="{}")  # JSON {kind: bytes}, including uncounted kinds
    reports: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MeterAlert(Base):
    """A user's daily volume passed the policy's warning level or its limit; admins see and resolve it."""

    __tablename__ = "meter_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    level: Mapped[str] = mapped_column(String(16))  # warning | limit | mismatch
    username: Mapped[str] = mapped_column(String(100), index=True)
    project: Mapped[str] = mapped_column(String(40))
    bytes: Mapped[int] = mapped_column(BigInteger)  # the user's total that day when it was raised
    threshold: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
