"""alerts: a unique key on the open incident of a rule and subject (de-duplication in the database);
deliveries: an index for the retention purge of finished rows; verifications and sessions: the
device reference (the liveness lockout's hash of X-Device-Id) for repeated failures per device

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OPEN_KEY = sa.text("dedup_key IS NOT NULL")


def _key(type_: str, tenant: str | None, subject: str) -> str:
    # the same as kycguard.alerts.models.dedup_key (a migration does not import the application)
    return hashlib.sha256(f"{type_}\x00{tenant or ''}\x00{subject}".encode()).hexdigest()


def upgrade() -> None:
    op.add_column("alerts", sa.Column("dedup_key", sa.String(64), nullable=True))
    # the latest unresolved incident of each (type, tenant, subject) keeps collecting occurrences
    bind = op.get_bind()
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.String),
        sa.column("type", sa.String),
        sa.column("tenant", sa.String),
        sa.column("subject", sa.String),
        sa.column("status", sa.String),
        sa.column("last_seen", sa.DateTime(timezone=True)),
        sa.column("dedup_key", sa.String),
    )
    rows = bind.execute(
        sa.select(alerts.c.id, alerts.c.type, alerts.c.tenant, alerts.c.subject)
        .where(alerts.c.status != "resolved")
        .order_by(alerts.c.last_seen.desc(), alerts.c.id)
    ).all()
    taken: set[str] = set()
    for alert_id, type_, tenant, subject in rows:
        key = _key(type_, tenant, subject)
        if key in taken:
            continue
        taken.add(key)
        bind.execute(alerts.update().where(alerts.c.id == alert_id).values(dedup_key=key))
    op.create_index(
        "uq_alerts_open_dedup_key",
        "alerts",
        ["dedup_key"],
        unique=True,
        sqlite_where=OPEN_KEY,
        postgresql_where=OPEN_KEY,
    )
    op.create_index("ix_deliveries_finished", "deliveries", ["status", "delivered_at"])
    for table in ("verifications", "kyc_sessions"):
        op.add_column(table, sa.Column("device_ref", sa.String(32), nullable=True))
        op.create_index(f"ix_{table}_device_ref", table, ["device_ref"])


def downgrade() -> None:
    for table in ("verifications", "kyc_sessions"):
        op.drop_index(f"ix_{table}_device_ref", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("device_ref")
    op.drop_index("ix_deliveries_finished", "deliveries")
    op.drop_index("uq_alerts_open_dedup_key", "alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("dedup_key")
