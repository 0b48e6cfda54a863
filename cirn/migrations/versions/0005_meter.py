"""meter: member status (suspension), the volume meter's counters, daily usage and alerts

Revision ID: 0005_meter
Revises: 0001
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_meter"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("status_reason", sa.Text, nullable=True))
    op.create_table(
        "meter_counters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("sent", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("network", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", "project", "instance"),
    )
    op.create_table(
        "meter_usage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False, index=True),
        sa.Column("counted", sa.BigInteger, nullable=False),
        sa.Column("sent", sa.Text, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", "project", "day"),
    )
    op.create_table(
        "meter_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("day", sa.Date, nullable=False, index=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("username", sa.String(100), nullable=False, index=True),
        sa.Column("project", sa.String(40), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("meter_alerts")
    op.drop_table("meter_usage")
    op.drop_table("meter_counters")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("status_reason")
        batch.drop_column("status")
