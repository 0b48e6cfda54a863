"""Tables of data-access applications: Application, ApplicationDocument, CommitteeDecision."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Date, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cirn.db import Base
from cirn.hub import identity as _identity  # noqa: F401  (its table comes with migration 0004)
from cirn.models import utcnow

from .states import ApplicationKind, ApplicationState, Committee, Outcome


class Application(Base):
    """One request for data (or an amendment of a provisioned project), as the applicant wrote it.

    `datasets` is a JSON list of {"dataset", "version", "columns"} (columns null = the whole
    dataset); `members` a JSON list of hub user names besides the applicant.
    """

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ApplicationKind] = mapped_column(Enum(ApplicationKind, native_enum=False, length=16),
                                                  default=ApplicationKind.new)
    state: Mapped[ApplicationState] = mapped_column(Enum(ApplicationState, native_enum=False, length=24),
                                                    default=ApplicationState.draft, index=True)
    applicant: Mapped[str] = mapped_column(String(100), index=True)
    project_slug: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    research_plan: Mapped[str] = mapped_column(Text, default="")
    infrastructure: Mapped[str] = mapped_column(Text, default="")
    data_use_plan: Mapped[str] = mapped_column(Text, default="")
    requested_start: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    requested_end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    members_json: Mapped[str] = mapped_column("members", Text, default="[]")
    datasets_json: Mapped[str] = mapped_column("datasets", Text, default="[]")
    irb_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    irb_expires: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    pledge_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pledge_signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    pledge_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    project_expires: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    documents: Mapped[list["ApplicationDocument"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationDocument.id")
    decisions: Mapped[list["CommitteeDecision"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="CommitteeDecision.id")

    @property
    def subject(self) -> str:
        """The audit log's subject for everything about this application."""
        return f"application:{self.id}"

    @property
    def members(self) -> list[str]:
        return list(json.loads(self.members_json or "[]"))

    @members.setter
    def members(self, value: list[str]) -> None:
        self.members_json = json.dumps(sorted({m for m in value if m and m != self.applicant}))

    @property
    def everyone(self) -> list[str]:
        """The applicant and the members: the people the project is for."""
        return [self.applicant, *[m for m in self.members if m != self.applicant]]

    @property
    def datasets(self) -> list[dict]:
        return list(json.loads(self.datasets_json or "[]"))

    @datasets.setter
    def datasets(self, value: list[dict]) -> None:
        rows = [{"dataset": d["dataset"], "version": d["version"],
                 "columns": sorted(d["columns"]) if d.get("columns") else None} for d in value]
        self.datasets_json = json.dumps(sorted(rows, key=lambda r: r["dataset"]))

    def current_decisions(self) -> dict[Committee, "CommitteeDecision"]:
        """Each committee's latest decision in the current review round."""
        out: dict[Committee, CommitteeDecision] = {}
        for d in self.decisions:
            if d.round == self.review_round:
                out[d.committee] = d
        return out


class ApplicationDocument(Base):
    """An uploaded document, stored by content hash under $CIRN_HOME/applications/store/."""

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="documents")


class CommitteeDecision(Base):
    """A committee's decision with its comment to the applicant, in one review round."""

    __tablename__ = "application_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    committee: Mapped[Committee] = mapped_column(Enum(Committee, native_enum=False, length=16))
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=24))
    comment: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="decisions")
