"""audit seal: a chain version on every event and on the head (1 = plain SHA-256, 2 = HMAC-SHA-256)

Events written before this migration keep version 1. The first writer after it (or `cirn init`)
appends an `audit.chain_sealed` event of version 2 whose HMAC covers the last version-1 hash, so
from that checkpoint on the old events cannot be rewritten either.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("version")
