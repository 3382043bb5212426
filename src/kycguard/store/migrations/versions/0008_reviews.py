"""review workflow: review_cases, case_labels, known_faces

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"  # chained after alerts (0007) in the web branch, which merges both
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("original_status", sa.String(16), nullable=False),
        sa.Column("risk_score", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claim_expires_at", TZ, nullable=True),
        sa.Column("pending", sa.JSON, nullable=True),
        sa.Column("decision", sa.JSON, nullable=True),
        sa.Column("final_status", sa.String(16), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.UniqueConstraint("kind", "case_id", name="uq_review_cases_case"),
    )
    op.create_index("ix_review_cases_queue", "review_cases", ["status", "risk_score", "created_at"])
    op.create_index("ix_review_cases_tenant", "review_cases", ["tenant"])
    op.create_table(
        "case_labels",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("was_fraud", sa.Boolean, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("labelled_by", sa.String(128), nullable=False),
        sa.Column("labelled_at", TZ, nullable=False),
        sa.Column("case_created_at", TZ, nullable=False),
    )
    op.create_index("ix_case_labels_case_created_at", "case_labels", ["case_created_at"])
    op.create_table(
        "known_faces",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("fraud", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("template", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("kind", "case_id", name="uq_known_faces_case"),
    )
    op.create_index("ix_known_faces_tenant", "known_faces", ["tenant"])
    op.create_index("ix_known_faces_user_id", "known_faces", ["user_id"])


def downgrade() -> None:
    op.drop_table("known_faces")
    op.drop_table("case_labels")
    op.drop_table("review_cases")
