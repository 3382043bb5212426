"""verification records seal their personal fields: verifications.sealed (+ erasure markers)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01

``sealed`` holds the whole answer encrypted with the data keys; ``result`` keeps only the public view
(decision, scores, reason codes). Rows written before this revision still hold their answer in clear
in ``result``: the server seals them at start (``VerificationRepository.seal_legacy``), because the
data keys are not available to a migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("personal_erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("personal_erased_reason", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.drop_column("personal_erased_reason")
        batch.drop_column("personal_erased_at")
        batch.drop_column("sealed")
