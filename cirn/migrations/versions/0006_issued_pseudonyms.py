"""datasets: every pseudonym issued to a project (its egress identifier list never shrinks)

Revision ID: issued_pseudonyms
Revises: 0002
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "issued_pseudonyms"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_pseudonyms",
        sa.Column("project", sa.String(40), primary_key=True),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("issued_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("issued_pseudonyms")
