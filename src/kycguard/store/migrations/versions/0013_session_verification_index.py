"""kyc_sessions: an index on verification_id (a verification's read view finds the latest video
session created for it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_kyc_sessions_verification_id", "kyc_sessions", ["verification_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_kyc_sessions_verification_id", table_name="kyc_sessions")
