"""tuning reports: the scheduled threshold-tuning proposals and what became of them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_name", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=True),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.Column("window_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("proposed", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("applied_version", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_tuning_reports_created_at", "tuning_reports", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_tuning_reports_created_at", "tuning_reports")
    op.drop_table("tuning_reports")
