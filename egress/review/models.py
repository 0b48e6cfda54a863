"""Tables of the egress review: ReleaseRequest, RequestFile, FileReview, ReviewSubmission, Comment, Release."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cirn.db import Base
from cirn.models import utcnow

from .states import FileDecision, RequestState, Visibility


class ReleaseRequest(Base):
    """One request to release files of one project; many files, one justification each."""

    __tablename__ = "egress_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(40), index=True)
    requester: Mapped[str] = mapped_column(String(100), index=True)
    state: Mapped[RequestState] = mapped_column(Enum(RequestState, native_enum=False, length=24), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    round: Mapped[int] = mapped_column(Integer, default=1)  # +1 at each resubmission
    verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)  # overall scan verdict
    # findings of the request's own text (manifest_scan): it leaves in manifest.json, so it is checked too
    text_findings_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    files: Mapped[list["RequestFile"]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                      order_by="RequestFile.path")
    reviews: Mapped[list["FileReview"]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                       order_by="FileReview.id")
    submissions: Mapped[list["ReviewSubmission"]] = relationship(cascade="all, delete-orphan",
                                                                 order_by="ReviewSubmission.id")
    comments: Mapped[list["Comment"]] = relationship(cascade="all, delete-orphan", order_by="Comment.id")
    release: Mapped["Release | None"] = relationship(cascade="all, delete-orphan", uselist=False)

    @property
    def subject(self) -> str:
        return f"egress-request/{self.id}"

    @property
    def text_findings(self) -> list[dict]:
        return json.loads(self.text_findings_json or "[]")


class RequestFile(Base):
    """A snapshot of one workspace file: its path when submitted, its content hash, its findings."""

    __tablename__ = "egress_request_files"
    __table_args__ = (UniqueConstraint("request_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("egress_requests.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    justification: Mapped[str] = mapped_column(Text, default="")
    round: Mapped[int] = mapped_column(Integer, default=1)  # the round this content was submitted in
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    findings_json: Mapped[str] = mapped_column(Text, default="[]")  # FileReport dicts (archive members too)

    request: Mapped[ReleaseRequest] = relationship(back_populates="files")

    @property
    def reports(self) -> list[dict]:
        return json.loads(self.findings_json or "[]")

    @property
    def findings(self) -> list[dict]:
        return [dict(f, file=r["path"]) for r in self.reports for f in r.get("findings", [])]


class FileReview(Base):
    """One reviewer's decision on one file in one round."""

    __tablename__ = "egress_file_reviews"
    __table_args__ = (UniqueConstraint("file_id", "reviewer", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("egress_requests.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("egress_request_files.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer)
    decision: Mapped[FileDecision] = mapped_column(Enum(FileDecision, native_enum=False, length=20))
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="reviews")


class ReviewSubmission(Base):
    """A reviewer has finished their review of a round (their file decisions count from then on)."""

    __tablename__ = "egress_review_submissions"
    __table_args__ = (UniqueConstraint("request_id", "reviewer", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("egress_requests.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Comment(Base):
    __tablename__ = "egress_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("egress_requests.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("egress_request_files.id", ondelete="SET NULL"),
                                                nullable=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[Visibility] = mapped_column(Enum(Visibility, native_enum=False, length=16))
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Release(Base):
    """The package built when a request was approved; revoking it stops downloads."""

    __tablename__ = "egress_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("egress_requests.id", ondelete="CASCADE"), unique=True)
    package: Mapped[str] = mapped_column(String(300))  # file name inside the outbox
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
