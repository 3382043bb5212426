"""video sessions are tenant-scoped: kyc_sessions.tenant

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Sessions created before this revision have no recorded tenant. Those linked to a verification take
that verification's tenant (the link was the only proof of ownership); the others stay NULL, which no
tenant-confined key can reach (an admin, or an untenanted reviewer, still can).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kyc_sessions", sa.Column("tenant", sa.String(64), nullable=True))
    op.create_index("ix_kyc_sessions_tenant", "kyc_sessions", ["tenant"])
    op.execute(
        "UPDATE kyc_sessions SET tenant = (SELECT v.tenant FROM verifications v "
        "WHERE v.id = kyc_sessions.verification_id) WHERE verification_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_kyc_sessions_tenant", "kyc_sessions")
    with op.batch_alter_table("kyc_sessions") as batch:
        batch.drop_column("tenant")
