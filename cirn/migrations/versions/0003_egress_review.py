"""egress review: release requests, file snapshots, reviews, comments, releases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "egress_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project", sa.String(40), nullable=False, index=True),
        sa.Column("requester", sa.String(100), nullable=False, index=True),
        sa.Column("state", sa.String(24), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "egress_request_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("egress_requests.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("verdict", sa.String(8), nullable=True),
        sa.Column("findings_json", sa.Text, nullable=False),
        sa.UniqueConstraint("request_id", "path"),
    )
    op.create_table(
        "egress_file_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("egress_requests.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("egress_request_files.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("override_reason", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("file_id", "reviewer", "round"),
    )
    op.create_table(
        "egress_review_submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("egress_requests.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("request_id", "reviewer", "round"),
    )
    op.create_table(
        "egress_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("egress_requests.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("egress_request_files.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "egress_releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("egress_requests.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("package", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=True),
    )


def downgrade() -> None:
    for table in ("egress_releases", "egress_comments", "egress_review_submissions", "egress_file_reviews",
                  "egress_request_files", "egress_requests"):
        op.drop_table(table)
