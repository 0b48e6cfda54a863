"""egress review: findings of a request's own text (reason, justifications, paths, comments)

Revision ID: 0005_egress_text
Revises: 0003
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_egress_text"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("egress_requests") as batch:
        batch.add_column(sa.Column("text_findings_json", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("egress_requests") as batch:
        batch.drop_column("text_findings_json")
