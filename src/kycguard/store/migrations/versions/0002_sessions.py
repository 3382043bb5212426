"""video KYC sessions: sessions, accepted frames, kept images

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kyc_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("challenges", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("frames_received", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_kyc_sessions_user_created", "kyc_sessions", ["user_id", "created_at"])
    op.create_index("ix_kyc_sessions_status", "kyc_sessions", ["status"])
    op.create_table(
        "kyc_session_frames",
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("kyc_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("client_ts_ms", sa.Float(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sha256", name="uq_kyc_session_frames_sha256"),
    )
    op.create_table(
        "kyc_session_blobs",
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("kyc_sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kyc_session_blobs")
    op.drop_table("kyc_session_frames")
    op.drop_table("kyc_sessions")
