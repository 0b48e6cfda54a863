"""applications: data-access applications, their documents and committee decisions; identity refusals

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False, index=True),
        sa.Column("applicant", sa.String(100), nullable=False, index=True),
        sa.Column("project_slug", sa.String(40), nullable=False, index=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("research_plan", sa.Text, nullable=False),
        sa.Column("infrastructure", sa.Text, nullable=False),
        sa.Column("data_use_plan", sa.Text, nullable=False),
        sa.Column("requested_start", sa.Date, nullable=True),
        sa.Column("requested_end", sa.Date, nullable=True),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("datasets", sa.Text, nullable=False),
        sa.Column("irb_number", sa.String(100), nullable=True),
        sa.Column("irb_expires", sa.Date, nullable=True),
        sa.Column("pledge_name", sa.String(200), nullable=True),
        sa.Column("pledge_signed_at", sa.DateTime, nullable=True),
        sa.Column("pledge_sha256", sa.String(64), nullable=True),
        sa.Column("review_round", sa.Integer, nullable=False),
        sa.Column("project_expires", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "application_documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "application_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("committee", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "identity_refusals",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("identity_refusals")
    op.drop_table("application_decisions")
    op.drop_table("application_documents")
    op.drop_table("applications")
